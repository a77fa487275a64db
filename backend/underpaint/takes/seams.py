"""How well an edit joins what it kept: consistency figures stored with the take for the add-on to show.

- Range seams: the mean absolute difference between consecutive frames at
  each boundary of the edited range (last kept frame -> first new one, last
  new one -> first kept one), against the median of the same difference
  between consecutive frames inside the range. A join without a jump has
  boundary values near the inside median; a jump shows as a boundary several
  times larger (`jump`). The parent's figures at the same places are stored
  beside them: how much the shot itself moves there.
- Mask seams (refinements): the colour difference across the mask edge —
  the local mean colour just inside the edge against just outside it,
  averaged along the edge — for the new take and for the parent at the same
  edge (the contrast the picture had there anyway).

All differences are in 8-bit levels (0..255), averaged over the channels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import median
from typing import Any

import cv2
import numpy as np

FrameReader = Callable[[int], np.ndarray]

# Pixels on each side of a mask edge whose colours are compared (beyond the feathered band inside).
EDGE_BAND = 2


def frame_difference(a: np.ndarray, b: np.ndarray) -> float:
    """Mean absolute difference of two uint8 frames."""
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def range_seams(read: FrameReader, first: int, last: int, take_start: int, take_end: int) -> dict[str, Any]:
    """Boundary and inside differences of range `first..last` of a take spanning `take_start..take_end`."""
    frames = {n: read(n) for n in range(max(first - 1, take_start), min(last + 1, take_end) + 1)}

    def step(n: int) -> float:
        return frame_difference(frames[n], frames[n + 1])

    before = step(first - 1) if first > take_start else None
    after = step(last) if last < take_end else None
    inside = [step(n) for n in range(first, last)]
    middle = median(inside) if inside else None
    edges = [d for d in (before, after) if d is not None]
    jump = max(edges) / middle if edges and middle else None
    return {"before": before, "after": after, "inside_median": middle, "jump": jump}


def mask_edge_difference(image: np.ndarray, mask: np.ndarray, inner_band: int) -> float | None:
    """Mean colour difference across the edge of binary `mask` in `image` (None: the mask has no edge).

    Each side's colour near a point of the edge is the mean over that side's
    band (`inner_band` pixels inside, `EDGE_BAND` outside) within a small
    window, so the figure compares neighbours, not the whole mask with the
    whole frame.
    """
    inside = (mask > 0.5).astype(np.uint8)
    if inside.all() or not inside.any():
        return None
    outside = 1 - inside
    depth_in = cv2.distanceTransform(inside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    depth_out = cv2.distanceTransform(outside, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    band_in = ((inside > 0) & (depth_in <= inner_band)).astype(np.float32)
    band_out = ((outside > 0) & (depth_out <= EDGE_BAND)).astype(np.float32)
    size = 2 * (inner_band + EDGE_BAND) + 1
    pixels = image.astype(np.float32)

    def local_mean(band: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        weight = cv2.boxFilter(band, -1, (size, size), normalize=False)
        total = cv2.boxFilter(pixels * band[..., None], -1, (size, size), normalize=False)
        return total / np.maximum(weight, 1e-6)[..., None], weight

    mean_in, weight_in = local_mean(band_in)
    mean_out, weight_out = local_mean(band_out)
    edge = (depth_out > 0) & (depth_out <= 1) & (weight_in > 0) & (weight_out > 0)
    if not edge.any():
        return None
    return float(np.abs(mean_in - mean_out)[edge].mean())


def mask_seams(
    read_take: FrameReader, read_parent: FrameReader, masks: dict[int, np.ndarray], feather: int
) -> dict[str, float | None]:
    """The colour difference across the mask edges of the edited frames, in the take and in the parent."""
    take: list[float] = []
    parent: list[float] = []
    for frame, mask in masks.items():
        for out, read in ((take, read_take), (parent, read_parent)):
            value = mask_edge_difference(read(frame), mask, feather + EDGE_BAND)
            if value is not None:
                out.append(value)
    return {"take": _mean(take), "parent": _mean(parent)}


def edit_seams(
    read_take: FrameReader,
    read_parent: FrameReader,
    frames: Sequence[int],
    take_range: tuple[int, int],
    masks: dict[int, np.ndarray] | None = None,
    feather: int = 0,
) -> dict[str, Any]:
    """The take's `seams` metrics for an edit of `frames` (and `masks`, for a refinement)."""
    first, last = min(frames), max(frames)
    seams: dict[str, Any] = {
        "frames": [first, last],
        "range": range_seams(read_take, first, last, *take_range),
        "parent_range": range_seams(read_parent, first, last, *take_range),
    }
    if masks is not None:
        seams["mask_edge"] = mask_seams(read_take, read_parent, masks, feather)
    return seams


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None
