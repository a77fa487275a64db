"""A `wan-vace` model set: its options, where its weights come from, and where they run.

Weights load through `from_pretrained` from a local diffusers folder or a
Hugging Face id read from the local cache only (`HF_HOME`): painting never
downloads, `underpaint models pull NAME` does (`pull`). The VAE stays in fp32
as the Wan model cards advise; the transformer and UMT5 encoder run in bf16 on
an accelerator. When the GPU's free memory cannot hold them all, they are
offloaded to the CPU and moved in one at a time, and the VAE decodes in tiles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path

import torch
from diffusers import AutoencoderKLWan, WanVACEPipeline
from huggingface_hub import snapshot_download
from huggingface_hub.errors import LocalEntryNotFoundError

from ..base import EngineError
from ..devices import choose_dtype, should_offload
from ..registry import ModelSet
from .tiny import ensure_tiny_vace
from .windows import plan_windows

# Measured on an H100: 81 frames at 832x480 peak at 9.3 GiB above the 1.3B weights (the VAE decode).
WAN_WORKING_MEMORY = 10 * 1024**3

# Model sets built locally on first use, by name: builder(data_dir) -> diffusers folder.
BUILDERS = {"tiny-vace": ensure_tiny_vace}
OFFLOAD = ("auto", "always", "never")
# What `pull` fetches of a VACE repository: the pipeline's folders, nothing else the repo may hold.
PIPELINE_FILES = [
    "model_index.json",
    "scheduler/*",
    "text_encoder/*",
    "tokenizer/*",
    "transformer/*",
    "vae/*",
]


@dataclass(frozen=True)
class VaceOptions:
    """A `wan-vace` model set's table in models.toml, checked once."""

    pipeline: str = ""  # a Hugging Face id or a local diffusers folder
    builder: str = ""  # a name in BUILDERS: the pipeline folder is built locally on first use (tests)
    window: int = 81  # frames per call, 4k+1
    overlap: int = 17  # frames a window shares with the previous one; 4k+1 keeps them on whole latent frames
    flow_shift: float = 0.0  # 0 = by resolution
    offload: str = "auto"  # "auto" | "always" | "never": model CPU offload + VAE tiling

    @classmethod
    def from_model_set(cls, model_set: ModelSet) -> VaceOptions:
        """The set's options; every mistake is an EngineError naming the set and the key."""
        name = model_set.name
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(model_set.components) - set(known))
        if unknown:
            raise EngineError(f"model set {name!r}: unknown wan-vace option(s) {unknown}; known: {known}")
        for key, value in model_set.components.items():
            default = getattr(cls, key)
            expected = (int, float) if isinstance(default, float) else type(default)
            if not isinstance(value, expected) or isinstance(value, bool):
                raise EngineError(
                    f"model set {name!r}: {key} = {value!r} should be a {type(default).__name__}"
                )
        options = cls(**model_set.components)
        if bool(options.pipeline) == bool(options.builder):
            raise EngineError(f"model set {name!r} must name exactly one of `pipeline` or `builder`")
        if options.builder and options.builder not in BUILDERS:
            raise EngineError(
                f"model set {name!r}: unknown builder {options.builder!r}; known: {list(BUILDERS)}"
            )
        if options.offload not in OFFLOAD:
            raise EngineError(
                f"model set {name!r}: offload must be one of {OFFLOAD}, got {options.offload!r}"
            )
        try:
            plan_windows(options.window + 1, options.window, options.overlap)
        except ValueError as exc:
            raise EngineError(f"model set {name!r}: {exc}") from exc
        return options

    def source(self, data_dir: Path) -> str:
        """The folder or hub id to load, building a builder's folder first."""
        return self.pipeline or str(BUILDERS[self.builder](data_dir))


def local_folder(pipeline: str) -> Path | None:
    """The diffusers folder `pipeline` names on this machine (a path, or a hub id in the HF cache), else None."""
    if (Path(pipeline).expanduser() / "model_index.json").is_file():
        return Path(pipeline).expanduser()
    try:
        return Path(snapshot_download(pipeline, allow_patterns=PIPELINE_FILES, local_files_only=True))
    except (LocalEntryNotFoundError, ValueError, OSError):
        return None


def is_available(model_set: ModelSet, data_dir: Path) -> bool:
    """Whether the set loads without the network (a builder's set is built on first use)."""
    options = VaceOptions.from_model_set(model_set)
    return bool(options.builder) or local_folder(options.pipeline) is not None


def pull(model_set: ModelSet, data_dir: Path, log: Callable[[str], None] = print) -> None:
    """Fetch the set's pipeline into the Hugging Face cache (or build it), so that painting needs no network."""
    options = VaceOptions.from_model_set(model_set)
    if options.builder:
        log(f"{model_set.name}: building {options.builder} in {data_dir}")
        options.source(data_dir)
    elif local_folder(options.pipeline) is None:
        log(f"{model_set.name}: downloading {options.pipeline}")
        snapshot_download(options.pipeline, allow_patterns=PIPELINE_FILES)


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
