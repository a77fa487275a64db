"""A `wan-vace` model set: its options, where its weights come from, and where they run.

Weights load through `from_pretrained` from a local diffusers folder or a
Hugging Face id read from the local cache only (`HF_HOME`): painting never
downloads, `underpaint models pull NAME` does (`pull`). The VAE stays in fp32
as the Wan model cards advise; the transformer and UMT5 encoder run in bf16 on
an accelerator. When the GPU's free memory cannot hold them all, they are
offloaded to the CPU and moved in one at a time, and the VAE decodes in tiles.
"""

from __future__ import annotations

from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, WanVACEPipeline
from huggingface_hub import snapshot_download

from ..base import EngineError, Log
from ..devices import choose_dtype, should_offload
from .availability import PIPELINE_FILES, local_folder
from .config import VaceOptions

# Measured on an H100: 81 frames at 832x480 peak at 9.3 GiB above the 1.3B weights (the VAE decode).
WAN_WORKING_MEMORY = 10 * 1024**3


def pull(options: VaceOptions, data_dir: Path, log: Log) -> None:
    """Fetch the set's pipeline into the Hugging Face cache (or build it), so that painting needs no network."""
    if options.builder:
        log(f"{options.name}: building {options.builder} in {data_dir}")
        source(options, data_dir)
        return
    if local_folder(options.pipeline) is None:
        log(f"{options.name}: downloading {options.pipeline}")
        snapshot_download(options.pipeline, allow_patterns=PIPELINE_FILES)
    if options.draft is not None and options.draft.lora.local() is None:
        log(f"draft.lora: downloading {options.draft.lora.location}")
        options.draft.lora.fetch()


def source(options: VaceOptions, data_dir: Path) -> str:
    """The folder or hub id to load, building a builder's folder first."""
    if options.builder:
        from .tiny import ensure_tiny_vace

        return str(ensure_tiny_vace(data_dir))
    return options.pipeline


def load_pipeline(model_set: str, source: str, device: torch.device, offload: str) -> WanVACEPipeline:
    """Load VACE from `source` (no download), VAE in fp32, and place it on `device` (offloaded when short)."""
    folder = local_folder(source)
    if folder is None:
        raise EngineError(
            f"model set {model_set!r}: {source} is not on this machine; run `underpaint models pull {model_set}`"
        )
    try:
        vae = AutoencoderKLWan.from_pretrained(folder, subfolder="vae", dtype=torch.float32)
        pipe = WanVACEPipeline.from_pretrained(folder, vae=vae, dtype=choose_dtype(device, "bfloat16"))
    except OSError as exc:
        raise EngineError(
            f"model set {model_set!r} could not be loaded from {folder} ({exc}); "
            f"run `underpaint models pull {model_set}` again or check the path in models.toml"
        ) from exc
    pipe.set_progress_bar_config(disable=True)
    if should_offload(device, offload, [pipe.transformer, pipe.text_encoder, pipe.vae], WAN_WORKING_MEMORY):
        pipe.enable_model_cpu_offload(device=device)
        pipe.vae.enable_tiling()
    else:
        pipe.to(device)
    return pipe
