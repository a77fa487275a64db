"""The base model a style trains on: the SD1.5-family image models of an `animatediff` model set.

A style LoRA adapts the base model's image UNet, which the AnimateDiff engine
later runs inside its motion UNet (the spatial layers keep their names there),
so training needs only the base: UNet, VAE, text encoder, tokenizer and
scheduler config — not the motion module or the ControlNets. They load
through the engine's own loading code, from the same sources the engine uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKL, UNet2DConditionModel
from transformers import CLIPTextModel, CLIPTokenizer

from underpaint.engines.animatediff.config import AnimateDiffSettings, parse_settings
from underpaint.engines.animatediff.loading import (
    is_available,
    load_base,
    load_model,
    prepare,
    pull_command,
)
from underpaint.engines.base import EngineError
from underpaint.engines.registry import load_model_sets
from underpaint.errors import InputError

from .request import TRAINABLE_ENGINES


@dataclass
class BaseModels:
    """What LoRA training and its validation renders need of a base model."""

    unet: UNet2DConditionModel
    vae: AutoencoderKL
    text_encoder: CLIPTextModel
    tokenizer: CLIPTokenizer
    # The base's own noise schedule: training's DDPM and the validation renders' DDIM are made from it.
    scheduler_config: Any


def load_base_models(settings: AnimateDiffSettings, data_dir: Path, dtype: torch.dtype) -> BaseModels:
    """Load the base of `settings` on the CPU in `dtype` (built first for the tiny set); never downloads."""
    prepare(settings, data_dir)
    if not is_available(settings.base, "base"):
        raise EngineError(
            f"model set {settings.name!r} is missing its base model ({settings.base.location}); "
            f"run `{pull_command(settings)}`"
        )
    try:
        unet, vae, text_encoder, tokenizer, scheduler_config = load_base(settings.base, dtype)
        if settings.vae is not None:
            # The latents must come from the VAE the engine decodes with.
            vae = load_model(AutoencoderKL, settings.vae, dtype)
    except OSError as exc:
        raise EngineError(f"model set {settings.name!r}: the base model could not be loaded ({exc})") from exc
    return BaseModels(unet, vae, text_encoder, tokenizer, scheduler_config)


def default_training_model(data_dir: Path) -> str:
    """The first trainable model set whose base model is on this machine (sets built on demand do not count)."""
    for model_set in load_model_sets(data_dir).values():
        if model_set.engine not in TRAINABLE_ENGINES:
            continue
        settings = parse_settings(model_set, data_dir)
        if settings.builder is None and is_available(settings.base, "base"):
            return model_set.name
    raise InputError(
        "unknown_model",
        "no model set has its base model on this machine; run `underpaint models pull sd15` first, "
        "or name one with --model (--model tiny trains on the random test models)",
    )
