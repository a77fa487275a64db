"""Validation renders: what the trained style does to a prompt, next to what the base model does.

At the end of training each validation prompt (the caption of a held-out
image, or the trigger word when no image could be spared) is rendered twice
with the same seed — with the LoRA and with it switched off — so an artist
sees the style's effect at a glance, beside the held-out reference it should
resemble.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler, StableDiffusionPipeline

from underpaint.images import encode_png, write_atomic

from .base_models import BaseModels
from .card import CardRender

GUIDANCE = 7.5
SEED = 0


@torch.no_grad()
def render_validation(
    base: BaseModels,
    prompts: list[tuple[str, np.ndarray | None]],
    folder: Path,
    prefix: str,
    resolution: int,
    steps: int,
    on_render: Callable[[], None],
) -> list[CardRender]:
    """Render each (prompt, reference image or None) styled and unstyled into `folder`.

    Returned paths are relative to `folder`'s parent, prefixed by `prefix` (the folder's name in the style).
    """
    pipe = StableDiffusionPipeline(
        vae=base.vae,
        text_encoder=base.text_encoder,
        tokenizer=base.tokenizer,
        unet=base.unet,
        scheduler=DDIMScheduler.from_config(base.scheduler_config),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    base.unet.eval()
    folder.mkdir(parents=True, exist_ok=True)
    renders = []
    for number, (prompt, reference) in enumerate(prompts, start=1):
        files = {}
        for variant, enabled in (("styled", True), ("unstyled", False)):
            if enabled:
                base.unet.enable_adapters()
            else:
                base.unet.disable_adapters()
            image = pipe(
                prompt,
                height=resolution,
                width=resolution,
                num_inference_steps=steps,
                guidance_scale=GUIDANCE,
                generator=torch.Generator("cpu").manual_seed(SEED),
                output_type="np",
            ).images[0]
            files[variant] = _write(folder / f"{number:02d}-{variant}.png", (image * 255).round().astype(np.uint8))
            on_render()
        base.unet.enable_adapters()
        reference_file = None
        if reference is not None:
            reference_file = _write(folder / f"{number:02d}-reference.png", reference)
        renders.append(
            CardRender(
                prompt=prompt,
                styled=f"{prefix}/{files['styled']}",
                unstyled=f"{prefix}/{files['unstyled']}",
                reference=f"{prefix}/{reference_file}" if reference_file else None,
            )
        )
    return renders


def _write(path: Path, rgb: np.ndarray) -> str:
    write_atomic(path, encode_png(rgb))
    return path.name
