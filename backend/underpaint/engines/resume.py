"""Resumable painting, the same way for every engine: when state is saved, and whether it fits.

An engine saves its state every `EVERY_STEPS` denoising steps (animatediff:
the whole shot's latents; wan-vace: after each window, the frames the next
window takes as context) through the request's `Checkpoint`, and reads it
back when a paint starts. State saved for another request (another size,
frame count, schedule or seed) is ignored: the paint starts over.
"""

from __future__ import annotations

import numpy as np

from .base import PaintRequest

EVERY_STEPS = 5


def request_key(request: PaintRequest) -> np.ndarray:
    """What the state must have been saved for: frames, size, steps, seed, quality."""
    return np.array(
        [request.num_frames, request.width, request.height, request.steps, request.seed, int(request.draft)],
        np.int64,
    )


def saved_state(request: PaintRequest) -> dict[str, np.ndarray] | None:
    """The request's saved state, if it has some that was saved for this very request."""
    state = request.checkpoint.load() if request.checkpoint is not None else None
    key = None if state is None else state.get("key")
    if key is None or not np.array_equal(key, request_key(request)):
        return None
    return state


def save_state(request: PaintRequest, **state: np.ndarray) -> None:
    if request.checkpoint is not None:
        request.checkpoint.save({"key": request_key(request), **state})
