"""Pictures of a temporal report for people: the error curve over the shot, and per-pair heat maps.

Drawn with Pillow alone (the backend has no plotting library): the painted
take's warp error per frame pair in orange, the rough colour render's (the
floor) in grey, the bad-pair threshold as a dashed line, the worst ranges
shaded red, so the range to re-render is visible at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from underpaint.images import encode_png, write_atomic

from .report import PairScore, TemporalReport
from .warp import PairError

WIDTH, HEIGHT, MARGIN = 900, 320, 48
TAKE, FLOOR, THRESHOLD, WORST = (230, 120, 30), (150, 150, 150), (90, 90, 200), (255, 215, 215)
# Heat maps saturate at this error (8-bit levels): anything redder is clearly visible flicker.
HEAT_FULL_SCALE = 64.0


def _points(
    pairs: list[PairScore], x_of: dict[int, float], y_of: Callable[[float], float]
) -> list[tuple[float, float]]:
    return [(x_of[p.first], y_of(p.error)) for p in pairs if not math.isnan(p.error)]


def plot_report(report: TemporalReport, path: Path) -> None:
    """Write the report's curve as a PNG at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, render_report(report))


def render_report(report: TemporalReport) -> bytes:
    """The report's curve as PNG bytes."""
    image = Image.new("RGB", (WIDTH, HEIGHT), "white")
    draw = ImageDraw.Draw(image)
    firsts = [p.first for p in report.pairs]
    values = [p.error for p in report.pairs + (report.floor or []) if not math.isnan(p.error)]
    top = max([*values, report.threshold if not math.isnan(report.threshold) else 0.0, 1.0]) * 1.1
    span = max(firsts[-1] - firsts[0], 1) if firsts else 1
    x_of = {f: MARGIN + (f - firsts[0]) / span * (WIDTH - 2 * MARGIN) for f in firsts}

    def y_of(value: float) -> float:
        return HEIGHT - MARGIN - value / top * (HEIGHT - 2 * MARGIN)

    for first, last in report.worst:
        draw.rectangle([x_of.get(first, MARGIN) - 3, MARGIN, x_of.get(last - 1, WIDTH - MARGIN) + 3,
                        HEIGHT - MARGIN], fill=WORST)
    draw.line([(MARGIN, MARGIN), (MARGIN, HEIGHT - MARGIN), (WIDTH - MARGIN, HEIGHT - MARGIN)], fill="black")
    if not math.isnan(report.threshold):
        y = y_of(report.threshold)
        for dash in range(MARGIN, WIDTH - MARGIN, 12):
            draw.line([(dash, y), (dash + 6, y)], fill=THRESHOLD)
    if report.floor:
        draw.line(_points(report.floor, x_of, y_of), fill=FLOOR, width=2)
    take = _points(report.pairs, x_of, y_of)
    if len(take) > 1:
        draw.line(take, fill=TAKE, width=2)
    for x, y in take:
        draw.ellipse([x - 2, y - 2, x + 2, y + 2], fill=TAKE)
    draw.text((MARGIN, 12), f"warp error per frame pair (median {report.median:.2f}, p95 {report.p95:.2f} levels); "
              "orange: take, grey: rough render, red: worst ranges", fill="black")
    draw.text((MARGIN - 40, MARGIN - 6), f"{top:.1f}", fill="black")
    draw.text((MARGIN - 12, HEIGHT - MARGIN - 6), "0", fill="black")
    if firsts:
        draw.text((MARGIN, HEIGHT - MARGIN + 8), str(firsts[0]), fill="black")
        draw.text((WIDTH - MARGIN - 20, HEIGHT - MARGIN + 8), str(firsts[-1] + 1), fill="black")
    return encode_png(np.asarray(image))


def heat_map(result: PairError) -> np.ndarray:
    """uint8 RGB: black where consistent, red to yellow with error, blue where nothing could be compared."""
    heat = np.nan_to_num(result.heat, nan=-1.0)
    level = np.clip(heat / HEAT_FULL_SCALE, 0.0, 1.0)
    rgb = np.stack([level, np.clip(level * 2.0 - 1.0, 0.0, 1.0), np.zeros_like(level)], axis=-1)
    rgb[heat < 0] = (0.1, 0.1, 0.4)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def write_heat_map(folder: Path, first: int, result: PairError) -> None:
    """The heat map of pair (first, first + 1) as `folder/FFFF-GGGG.png`."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomic(folder / f"{first:04d}-{first + 1:04d}.png", encode_png(heat_map(result)))
