"""Styles: LoRA files applied to the models for one job, and removed again afterwards.

`load_lora_weights` reads both the diffusers/peft layout and the common kohya
layout (`lora_unet_...` / `lora_te_...` keys with `.alpha`), converting the
latter itself. Each style becomes a named adapter with its own weight
(`set_adapters`). After the job every LoRA layer is removed
(`unload_lora_weights`), which puts the original modules back: the next job
paints exactly as if no style had ever been loaded.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from diffusers import DiffusionPipeline

from .base import EngineError, StyleRef


def check_styles(styles: list[StyleRef], model_set: str) -> None:
    """Refuse styles that cannot apply to `model_set` before any work starts."""
    for style in styles:
        label = style.name or style.path
        if style.base_model and style.base_model != model_set:
            raise EngineError(
                f"style {label!r} was trained on model set {style.base_model!r} and cannot be used with "
                f"{model_set!r}; paint with {style.base_model!r} or train the style again on {model_set!r}"
            )
        if not Path(style.path).is_file():
            raise EngineError(f"style {label!r}: LoRA file not found: {style.path}")
        if not style.path.endswith(".safetensors"):
            raise EngineError(f"style {label!r}: LoRA files must be .safetensors, got {style.path}")


@contextmanager
def styles_applied(pipe: DiffusionPipeline, styles: list[StyleRef], model_set: str) -> Iterator[None]:
    """Load `styles` as weighted adapters into `pipe`'s UNet and text encoder for the duration of the block.

    Engines call `check_styles` first, when the request arrives, so a wrong style fails before any work.
    """
    if not styles:
        yield
        return
    names = [f"style_{i}" for i in range(len(styles))]
    try:
        for name, style in zip(names, styles, strict=True):
            _load(pipe, style, name, model_set)
        pipe.set_adapters(names, adapter_weights=[style.weight for style in styles])
        yield
    finally:
        pipe.unload_lora_weights()


def _load(pipe: DiffusionPipeline, style: StyleRef, name: str, model_set: str) -> None:
    label = style.name or Path(style.path).stem
    try:
        pipe.load_lora_weights(style.path, adapter_name=name)
    except (ValueError, RuntimeError, KeyError, OSError) as exc:
        raise EngineError(
            f"style {label!r} ({style.path}) does not fit model set {model_set!r}: {exc}"
        ) from exc
    loaded = {adapter for adapters in pipe.get_list_adapters().values() for adapter in adapters}
    if name not in loaded:
        raise EngineError(
            f"style {label!r} ({style.path}) changes no layer of model set {model_set!r}: "
            "it was trained for another base model"
        )
