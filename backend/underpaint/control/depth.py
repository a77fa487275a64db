"""Depth control images: inverse depth with ONE near/far range for the whole shot.

A ControlNet depth model was trained on MiDaS-style pictures: disparity
(inverse depth), near = white. Normalising each frame by its own min/max
makes the picture pump whenever something walks closer or leaves the frame,
and the painting flickers with it. So the range comes from the whole shot
(every frame, even when a take paints only a few), and a frame's picture
depends only on its own depths and that range.

Mapping, for a pixel at depth z inside [near, far]:

    t = (1/z - 1/far) / (1/near - 1/far)       1 at near, 0 at far
    v = FLOOR + (1 - FLOOR) * t                the farthest surface stays above black

Background (nothing hit) is 0, black, as sky is in MiDaS output.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from underpaint.errors import InputError

# Grey level of the farthest surface in the shot, so it never merges with the empty background.
FLOOR = 0.1


@dataclass(frozen=True)
class DepthRange:
    """Nearest and farthest foreground depth of a shot, in scene units."""

    near: float
    far: float

    def to_json(self) -> list[float]:
        return [self.near, self.far]


def foreground(depth: np.ndarray, background_threshold: float) -> np.ndarray:
    """Pixels that hit geometry: finite, positive, and below the background threshold."""
    return np.isfinite(depth) & (depth > 0) & (depth < background_threshold)


def depth_range(frames: Iterable[np.ndarray], background_threshold: float) -> DepthRange:
    """The shot's range: min and max foreground depth over all `frames`."""
    near, far = np.inf, -np.inf
    for depth in frames:
        hit = depth[foreground(depth, background_threshold)]
        if hit.size:
            near, far = min(near, float(hit.min())), max(far, float(hit.max()))
    if not np.isfinite(near):
        raise InputError("empty_depth", "no frame of the shot has any geometry in its depth pass")
    return DepthRange(near, far)


def depth_image(depth: np.ndarray, rng: DepthRange, background_threshold: float) -> np.ndarray:
    """float32 (H, W) in [0, 1]: near = 1, far = FLOOR, background = 0."""
    depth = depth.astype(np.float64)
    hit = foreground(depth, background_threshold)
    inverse = np.where(hit, 1.0 / np.where(hit, depth, 1.0), 0.0)
    lo, hi = 1.0 / rng.far, 1.0 / rng.near
    t = np.ones_like(inverse) if hi == lo else (inverse - lo) / (hi - lo)
    value = FLOOR + (1.0 - FLOOR) * np.clip(t, 0.0, 1.0)
    return np.where(hit, value, 0.0).astype(np.float32)
