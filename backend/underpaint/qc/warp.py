"""The warp error of one frame pair: how much a painting changes along the scene's true motion.

Blender's Vector pass gives, per pixel of frame t, its motion in pixels from
the previous frame (X, Y = here - there) and to the next one (Z, W = there -
here), with y pointing up (Cycles' `primitive_motion_vector`). So the pixel
at (column c, row r) of frame t shows the same surface point as position
(c + Z, r - W) of frame t+1. Sampling frame t+1 there (bilinear) warps it
back onto frame t; where the painting is temporally consistent, the warped
frame equals frame t.

Pixels that cannot be compared are masked out rather than counted:
- the point leaves the frame (its position in t+1 lies outside the image);
- occlusion and disocclusion, by forward/backward consistency: frame t+1's
  own backward motion at the landing point must lead back to where the pixel
  started (within `tolerance` px plus 5% of the motion); a surface that is
  hidden in t+1, or background newly uncovered there, fails the check.

The error is the mean absolute difference over the valid pixels, in 8-bit
levels (0..255) averaged over the RGB channels.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Forward/backward mismatch allowed, in pixels, before a pixel counts as occluded.
CONSISTENCY_PX = 0.5
CONSISTENCY_RELATIVE = 0.05


@dataclass(frozen=True)
class PairError:
    """The warp error of frames (t, t+1): mean |difference| over valid pixels, and where it was measured."""

    error: float
    valid_fraction: float
    heat: np.ndarray  # float32 (H, W): per-pixel |difference| in 8-bit levels, NaN where not valid


def _sample(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    return cv2.remap(image, xs, ys, interpolation=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def valid_pixels(motion_t: np.ndarray, motion_next: np.ndarray, tolerance: float = CONSISTENCY_PX) -> tuple[
    np.ndarray, np.ndarray, np.ndarray
]:
    """Where frame t's pixels land in frame t+1 (float32 columns, rows) and which of them can be compared."""
    height, width = motion_t.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    forward_x, forward_y = motion_t[..., 2], -motion_t[..., 3]  # to the next frame, in image rows (down)
    xs, ys = cols + forward_x, rows + forward_y
    inside = (xs >= 0) & (xs <= width - 1) & (ys >= 0) & (ys <= height - 1)
    # Frame t+1's motion from the previous frame at the landing point should undo the step.
    back_x = _sample(np.ascontiguousarray(motion_next[..., 0]), xs, ys)
    back_y = -_sample(np.ascontiguousarray(motion_next[..., 1]), xs, ys)
    mismatch = np.hypot(forward_x - back_x, forward_y - back_y)
    allowed = tolerance + CONSISTENCY_RELATIVE * np.hypot(forward_x, forward_y)
    return xs, ys, inside & (mismatch <= allowed)


def pair_error(frame_t: np.ndarray, frame_next: np.ndarray, motion_t: np.ndarray, motion_next: np.ndarray) -> PairError:
    """The warp error of uint8 RGB frames t and t+1 given both frames' Vector passes (H, W, 4)."""
    xs, ys, valid = valid_pixels(motion_t, motion_next)
    warped = _sample(frame_next.astype(np.float32), xs, ys)
    heat = np.abs(warped - frame_t.astype(np.float32)).mean(axis=-1)
    count = int(valid.sum())
    error = float(heat[valid].mean()) if count else float("nan")
    return PairError(error, count / valid.size, np.where(valid, heat, np.nan).astype(np.float32))
