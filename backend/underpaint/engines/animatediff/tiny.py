"""The `tiny` model set: random-weight miniatures of every model, built locally on first use.

Tests and CI have no weights and no network. They still load models through
the same `from_pretrained` code as real sets, from folders in diffusers layout
that this module writes once into `<data dir>/models/tiny/` (a Stable Diffusion
pipeline folder, a motion adapter, one ControlNet per control type, and the
draft's motion module as a single file). The weights
come from a fixed seed, so every machine builds the same tiny models.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, ControlNetModel, DDIMScheduler, MotionAdapter, StableDiffusionPipeline
from safetensors.torch import save_file
from transformers import CLIPTokenizer

from ..base import CONTROL_TYPES
from ..builds import build_once
from . import architectures as arch

# Bump when the tiny configs or layout change: a folder with another stamp is rebuilt. The controls
# are part of it, so a control added to the registry gets its tiny ControlNet without a bump.
TINY_VERSION = "5:" + ",".join(CONTROL_TYPES)
SEED = 20240611

BASE = "base"
MOTION_ADAPTER = "motion_adapter"
# The draft's motion module as a single file beside the config that lays it out, as AnimateDiff-Lightning
# ships (its layout, AnimateDiff v2's, has a motion mid block, which the set's own module lacks).
DRAFT_MOTION_ADAPTER = "draft_motion_adapter.safetensors"
DRAFT_MOTION_ADAPTER_CONFIG = "draft_motion_adapter_config"


def controlnet_folder(control: str) -> str:
    return f"controlnet_{control}"


def tiny_dir(data_dir: Path) -> Path:
    return data_dir / "models" / "tiny"


def ensure_tiny_models(data_dir: Path) -> Path:
    """The tiny model folder under `data_dir`, built now if missing or from an older builder
    (atomically, safe when several processes start at once: `builds.build_once`)."""
    return build_once(tiny_dir(data_dir), TINY_VERSION, _build)


def _build(folder: Path) -> None:
    # Each model from its own seed, so adding a model never changes the others' weights.
    tokenizer = write_tokenizer(folder / BASE / "tokenizer")
    vocab = tokenizer.get_vocab()
    torch.manual_seed(SEED)
    unet = arch.build_unet(arch.TINY)
    torch.manual_seed(SEED + 1)
    vae = _trained_like(arch.build_vae(arch.TINY))
    torch.manual_seed(SEED + 2)
    text_encoder = arch.build_text_encoder(
        arch.TINY, len(vocab), vocab[tokenizer.bos_token], vocab[tokenizer.eos_token]
    )
    # The scheduler config of SD1.5; model sets pick AnimateDiff's DDIM options on top of it.
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, steps_offset=1
    )
    pipeline = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipeline.save_pretrained(folder / BASE)
    torch.manual_seed(SEED + 3)
    arch.build_motion_adapter(arch.TINY).save_pretrained(folder / MOTION_ADAPTER)
    for offset, control in enumerate(CONTROL_TYPES, start=4):
        torch.manual_seed(SEED + offset)
        _steering(arch.build_controlnet(arch.TINY)).save_pretrained(folder / controlnet_folder(control))
    torch.manual_seed(SEED + 100)
    draft = MotionAdapter(**{**arch.TINY.motion_adapter, "use_motion_mid_block": True})
    draft.save_config(folder / DRAFT_MOTION_ADAPTER_CONFIG)
    save_file({k: v.contiguous() for k, v in draft.state_dict().items()}, folder / DRAFT_MOTION_ADAPTER)


@torch.no_grad()
def _trained_like(vae: AutoencoderKL) -> AutoencoderKL:
    """Give the random VAE the two statistics of a trained one that the pipelines rely on.

    A trained VAE's posterior is nearly deterministic and its `scaling_factor`
    brings latents to unit variance, so an encoded image and the diffusion
    noise are on the same scale. A random VAE has a posterior as wide as its
    mean and latents far from unit variance: video-to-video would then drown
    the colour render in noise, which no test could tell from a bug.
    """
    channels = vae.config.latent_channels
    vae.quant_conv.weight[channels:] = 0
    vae.quant_conv.bias[channels:] = -20.0
    probe = torch.rand((4, 3, vae.config.sample_size, vae.config.sample_size)) * 2 - 1
    spread = vae.encode(probe).latent_dist.mean.std().item()
    vae.register_to_config(scaling_factor=1.0 / spread)
    return vae


def _steering(controlnet: ControlNetModel) -> ControlNetModel:
    """Give a fresh ControlNet non-zero output convolutions, as training does.

    ControlNets start with zero-initialised "zero convolutions", so an
    untrained one adds nothing to the UNet: controls, their weights and their
    start/end would have no effect to test.
    """
    zero_convs = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]
    for conv in [*zero_convs, controlnet.controlnet_cond_embedding.conv_out]:
        conv.reset_parameters()
    return controlnet


def write_tokenizer(folder: Path) -> CLIPTokenizer:
    """A CLIP tokenizer over single bytes, written as vocab.json + merges.txt and saved by transformers.

    Byte-level BPE with no merges reads any text (one token per character),
    and `model_max_length=77` pads and truncates exactly like SD's tokenizer.
    """
    folder.mkdir(parents=True, exist_ok=True)
    symbols = _byte_symbols()
    vocab = {s: i for i, s in enumerate([*symbols, *(s + "</w>" for s in symbols)])}
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer.from_pretrained(folder, model_max_length=77)
    tokenizer.save_pretrained(folder)
    return tokenizer


def _byte_symbols() -> list[str]:
    """The printable stand-in for each of the 256 byte values, as byte-level BPE (GPT-2, CLIP) maps them."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    extra = iter(range(256, 512))
    return [chr(b if b in printable else next(extra)) for b in range(256)]
