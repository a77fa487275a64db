"""Edge control images: a line drawing of the blocking, measured, not guessed from colour.

A lineart or canny ControlNet was trained on white lines on black. Guessing
lines from a render (what canny does) draws texture and shading and misses a
grey object against a grey wall; the passes say exactly where the blocking
has an outline or a fold:

- silhouettes: where disparity (1 / depth) jumps between neighbouring pixels
  by more than `SILHOUETTE_JUMP` of the nearer one and `STANDOUT` times the
  steps beside it, or where a surface meets the background. Disparity is
  affine across any plane in a perspective image, so a wall seen at a grazing
  angle steps evenly and draws nothing;
- creases: where the normals of neighbouring surface pixels turn by more than
  `CREASE_DEGREES` (a cube's edges between two visible faces). Without a normal
  pass, creases come from disparity's second difference, which is 0 on planes.

Every threshold is a fixed, scale-free ratio or angle: the same blocking gives
the same drawing in every frame whatever else enters the shot, so the lines
do not flicker (no per-frame percentiles, no auto-contrast). Lines are found
at the shot's resolution, then widened to keep about `LINE_WIDTH` generation
pixels after the resize, as the ControlNet's training lines were.
"""

from __future__ import annotations

import cv2
import numpy as np

from .resize import ResizePlan

# Relative disparity jump between neighbours that counts as an outline (10 %: a hand 5 cm in front
# of a body 1 m away is an outline; a 512-pixel-wide wall at any angle is not).
SILHOUETTE_JUMP = 0.10
# How many times larger than a neighbouring step an outline's step is: a plane, even one receding
# steeply towards the horizon, steps evenly in disparity; an outline steps once.
STANDOUT = 2.0
# Turn of the surface normal between neighbours that counts as a crease.
CREASE_DEGREES = 30.0
# Relative change of disparity's slope that counts as a crease when there are no normals.
CURVATURE_JUMP = 0.02
# Line width in generation pixels.
LINE_WIDTH = 1.5


def silhouettes(depth: np.ndarray, background: float) -> np.ndarray:
    """bool (H, W): outlines, from disparity jumps and surface/background borders."""
    surface = np.isfinite(depth) & (depth > 0) & (depth < background)
    disparity = np.where(surface, 1.0 / np.where(surface, depth, 1.0), 0.0).astype(np.float32)
    edges = np.zeros(depth.shape, bool)
    for axis in (0, 1):
        a, b = _pairs(disparity, axis)
        sa, sb = _pairs(surface, axis)
        step = np.abs(a - b)
        # The steps just before and after this one: a plane steps evenly, an outline stands out.
        padded = np.pad(step, [(1, 1) if i == axis else (0, 0) for i in range(2)], mode="edge")
        before, after = (padded[:-2], padded[2:]) if axis == 0 else (padded[:, :-2], padded[:, 2:])
        jump = (step > SILHOUETTE_JUMP * np.maximum(a, b)) & (step > STANDOUT * np.minimum(before, after))
        border = sa != sb
        # The line goes on the nearer (surface) side, where the outline belongs to the object.
        _mark(edges, axis, (jump | border) & (a >= b) & sa, (jump | border) & (b > a) & sb)
    return edges


def creases(depth: np.ndarray, normal: np.ndarray | None, background: float) -> np.ndarray:
    """bool (H, W): folds of the surface, from the normals (or disparity's curvature without them)."""
    surface = np.isfinite(depth) & (depth > 0) & (depth < background)
    disparity = np.where(surface, 1.0 / np.where(surface, depth, 1.0), 0.0).astype(np.float64)
    edges = np.zeros(depth.shape, bool)
    if normal is not None:
        length = np.linalg.norm(normal, axis=-1, keepdims=True)
        unit = np.where(length > 1e-6, normal / np.maximum(length, 1e-6), 0.0)
        limit = np.cos(np.radians(CREASE_DEGREES))
        for axis in (0, 1):
            a, b = _pairs(unit, axis)
            sa, sb = _pairs(surface, axis)
            da, db = _pairs(disparity, axis)
            # A fold of one surface: the depth goes on (where it jumps, the outline is the silhouette's).
            joined = np.abs(da - db) <= SILHOUETTE_JUMP * np.maximum(da, db)
            turned = (np.sum(a * b, axis=-1) < limit) & sa & sb & joined
            _mark(edges, axis, turned, np.zeros_like(turned))
        return edges
    for axis in (0, 1):
        d = np.moveaxis(disparity, axis, 0)
        s = np.moveaxis(surface, axis, 0)
        bend = np.zeros(d.shape, bool)
        second = np.abs(d[2:] - 2 * d[1:-1] + d[:-2])
        inside = s[2:] & s[1:-1] & s[:-2]
        bend[1:-1] = inside & (second > CURVATURE_JUMP * d[1:-1])
        edges |= np.moveaxis(bend, 0, axis)
    return edges


def _pairs(values: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """Each pixel and its next neighbour along `axis` (rows for 0, columns for 1)."""
    if axis == 0:
        return values[:-1], values[1:]
    return values[:, :-1], values[:, 1:]


def _mark(edges: np.ndarray, axis: int, first: np.ndarray, second: np.ndarray) -> None:
    """Set the first pixel of pairs where `first` holds and the second where `second` does."""
    if axis == 0:
        edges[:-1] |= first
        edges[1:] |= second
    else:
        edges[:, :-1] |= first
        edges[:, 1:] |= second


def edge_lines(depth: np.ndarray, normal: np.ndarray | None, background: float) -> np.ndarray:
    """bool (H, W) at the shot's resolution: silhouettes and creases."""
    return silhouettes(depth, background) | creases(depth, normal, background)


def edges_image(lines: np.ndarray, plan: ResizePlan) -> np.ndarray:
    """uint8 (H, W, 3) at the generation size: the lines white on black, about `LINE_WIDTH` pixels wide."""
    box = plan.source_box
    # Source pixels per generation pixel: lines are widened to that before the (area) downscale.
    scale = max((box[2] - box[0]) / max(plan.target_box[2] - plan.target_box[0], 1),
                (box[3] - box[1]) / max(plan.target_box[3] - plan.target_box[1], 1), 1.0)
    radius = max(0, int(round(LINE_WIDTH * scale / 2 - 0.5)))
    line = lines.astype(np.uint8)
    if radius:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        line = np.asarray(cv2.dilate(line, kernel), np.uint8)
    value = plan.apply(line.astype(np.float32))
    drawn = (value >= 0.5).astype(np.uint8) * 255
    return np.repeat(drawn[..., None], 3, axis=-1)
