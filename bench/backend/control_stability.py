"""Control stability: the warp error of the control images themselves along the shot's motion.

A control that changes where the scene does not flickers the painting it
steers. Depth is the telling case: Underpaint normalises it with ONE range for
the whole shot; the other Blender tools normalise each frame by its own
min/max, so every surface's grey level pumps whenever the nearest object moves.
Both are scored here with `underpaint.qc` on a synthetic shot whose ball rolls
across and away from the camera (48 frames, 256x192), beside the normal
control, which needs no range. Two figures each: over every pixel that can be
followed (the ball's grey level rightly changes as it moves away), and over
the static surfaces alone (wall and box), where any change is flicker.

    .venv/bin/python bench/backend/control_stability.py
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "backend"))

from shots import write_shot  # noqa: E402

from underpaint.control.build import shot_depth_range  # noqa: E402
from underpaint.control.depth import depth_image, depth_range  # noqa: E402
from underpaint.control.normal import normal_image  # noqa: E402
from underpaint.control.resize import to_uint8  # noqa: E402
from underpaint.qc.warp import pair_error  # noqa: E402
from underpaint.shot.package import ShotPackage, load_package  # noqa: E402

FRAMES, WIDTH, HEIGHT = 48, 256, 192


def grey(image: np.ndarray) -> np.ndarray:
    return np.repeat(to_uint8(image)[..., None], 3, axis=-1)


def score(package: ShotPackage, draw: Callable[[int], np.ndarray]) -> tuple[float, float]:
    """Median over frame pairs of the warp error: over all followed pixels, and over static ones only."""
    every, static = [], []
    numbers = package.frame_numbers
    for first, second in zip(numbers, numbers[1:], strict=False):
        now, nxt = package.read_passes(first), package.read_passes(second)
        assert now.motion is not None and nxt.motion is not None
        result = pair_error(draw(first), draw(second), now.motion, nxt.motion)
        still = (np.abs(now.motion).sum(axis=-1) == 0) & np.isfinite(result.heat)
        every.append(result.error)
        static.append(float(result.heat[still].mean()))
    return float(np.median(every)), float(np.median(static))


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        package = load_package(write_shot(Path(tmp) / "shot", frames=FRAMES, width=WIDTH, height=HEIGHT,
                                          motion=True))
        threshold = package.shot.passes.depth.background_threshold
        shot_range = shot_depth_range(package)

        def shot_wide(n: int) -> np.ndarray:
            return grey(depth_image(package.read_depth(n), shot_range, threshold))

        def per_frame(n: int) -> np.ndarray:
            depth = package.read_depth(n)
            return grey(depth_image(depth, depth_range([depth], threshold), threshold))

        def normal(n: int) -> np.ndarray:
            normals = package.read_passes(n).normal
            assert normals is not None
            return to_uint8(normal_image(normals))

        print(f"control warp error along the motion, {FRAMES} frames {WIDTH}x{HEIGHT}, median over pairs, "
              "8-bit levels: all followed pixels / static surfaces")
        for label, draw in (("depth, one range per shot (Underpaint)", shot_wide),
                            ("depth, per-frame min/max (baseline)", per_frame),
                            ("normal (no range to choose)", normal)):
            every, static = score(package, draw)
            print(f"  {label:40} {every:7.3f} / {static:7.3f}")


if __name__ == "__main__":
    main()
