"""The request checks every engine makes, written once against the model set's capabilities.

Every problem of a request is an EngineError naming it, before any model
runs: the same request is refused the same way by every engine.
"""

from __future__ import annotations

import numpy as np

from .base import Capabilities, EngineError, PaintRequest
from .schedule import request_steps

# Every engine's latents are 1/8 of the frame: sizes are multiples of it.
LATENT_SCALE = 8


def check_request(request: PaintRequest, capabilities: Capabilities, engine: str) -> None:
    """Refuse what no engine can paint, and what this model set cannot (controls, references, cache, draft)."""
    n, h, w = request.num_frames, request.height, request.width
    if n < 1:
        raise EngineError(f"num_frames must be at least 1, got {n}")
    if w <= 0 or h <= 0 or w % LATENT_SCALE or h % LATENT_SCALE:
        raise EngineError(f"width and height must be positive multiples of {LATENT_SCALE}, got {w}x{h}")
    if request.steps < 1:
        raise EngineError(f"steps must be at least 1, got {request.steps}")
    if request.guidance < 0:
        raise EngineError(f"guidance must not be negative, got {request.guidance}")
    _check_prompts(request)
    _check_controls(request, capabilities, engine)
    if request.init_video is not None:
        check_frames("colour video", request.init_video, n, h, w)
        if not 0 < request.strength <= 1:
            raise EngineError(f"strength must be in (0, 1], got {request.strength}")
        request_steps(request)  # refuses a strength that leaves no step
    _check_edit(request)
    if request.reference_images and not capabilities.references:
        raise EngineError(
            f"{engine} takes no reference images; carry the look with a style (LoRA), or paint with a model "
            "set that takes them (wan-vace)"
        )
    if request.cache and not capabilities.cache:
        raise EngineError(f"{engine} has no step cache; paint without it, or with a model set that has one (wan-vace)")
    if request.draft and capabilities.draft is None:
        raise EngineError(
            f"this {engine} model set has no draft models; paint in final quality, or with a set that has a "
            "draft (its `draft` table in models.toml)"
        )
    for i, image in enumerate(request.reference_images):
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            got = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
            raise EngineError(f"reference image {i} must be uint8 RGB (h, w, 3), got {got}")


def _check_prompts(request: PaintRequest) -> None:
    if not request.prompts:
        raise EngineError("the request has no prompt")
    n = request.num_frames
    starts = [span.start for span in request.prompts]
    if starts != sorted(starts) or starts[0] < 0 or starts[-1] >= n:
        raise EngineError(f"prompt schedule starts {starts} must increase and lie within frames 0-{n - 1}")


def _check_controls(request: PaintRequest, capabilities: Capabilities, engine: str) -> None:
    available = capabilities.controls
    if capabilities.control_required and not request.controls:
        raise EngineError(f"the request has no control images; give at least one of {', '.join(available)}")
    for name, images in request.controls.items():
        if name not in available:
            raise EngineError(
                f"control {name!r} is not available in this {engine} model set; it has {', '.join(available)}"
            )
        check_frames(f"control {name!r}", images, request.num_frames, request.height, request.width)
    for name, setting in request.control_settings.items():
        if not (setting.weight >= 0 and 0 <= setting.start < setting.end <= 1):
            raise EngineError(
                f"control {name!r}: need weight >= 0 and 0 <= start < end <= 1, got "
                f"weight={setting.weight}, start={setting.start}, end={setting.end}"
            )


def _check_edit(request: PaintRequest) -> None:
    if (request.known is None) != (request.repaint_mask is None):
        raise EngineError("an edit needs both 'known' frames and a 'repaint_mask' (or neither)")
    if request.known is None:
        return
    n, h, w = request.num_frames, request.height, request.width
    check_frames("known frames", request.known, n, h, w)
    mask = request.repaint_mask
    if not isinstance(mask, np.ndarray) or mask.dtype != np.float32 or mask.shape != (n, h, w):
        got = f"{mask.dtype} {mask.shape}" if isinstance(mask, np.ndarray) else type(mask).__name__
        raise EngineError(f"repaint mask: expected float32 of shape {(n, h, w)}, got {got}")
    if not (np.all(mask >= 0) and np.all(mask <= 1)):
        raise EngineError("repaint mask: values must lie in [0, 1]")


def check_frames(label: str, frames: np.ndarray, n: int, h: int, w: int) -> None:
    """Refuse anything but uint8 RGB frames of shape (n, h, w, 3)."""
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8 or frames.shape != (n, h, w, 3):
        got = f"{frames.dtype} {frames.shape}" if isinstance(frames, np.ndarray) else type(frames).__name__
        raise EngineError(f"{label}: expected uint8 frames of shape {(n, h, w, 3)}, got {got}")
