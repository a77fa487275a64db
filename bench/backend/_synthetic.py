"""Synthetic control video shared by the engine benchmarks (a helper module: `make bench` skips `_*.py`)."""

from __future__ import annotations

import numpy as np


def moving_disc(frames: int, size: int, speed: int = 2) -> np.ndarray:
    """A depth control video, uint8 (frames, size, size, 3): a near disc sliding right over a far backdrop."""
    y, x = np.mgrid[0:size, 0:size]
    t = np.arange(frames)[:, None, None]
    disc = ((x[None] - size // 4 - speed * t) ** 2 + (y[None] - size // 2) ** 2) < (size // 5) ** 2
    return np.repeat(np.where(disc, 220, 30).astype(np.uint8)[..., None], 3, axis=-1)
