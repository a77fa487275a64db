"""Temporal QC of a folder of painted frames over a shot: per-pair warp errors, summary, worst ranges.

`measure(package, frames_dir)` reads the shot's Vector passes and the painted
`####.png` frames (Blender frame numbers), scores every consecutive pair
(`underpaint.qc.warp`), and scores the shot's own rough colour render the
same way when it has one: the floor a painting can reach, since the
blocking's flat colours barely change along the motion. A pair counts as bad
when it stands well above the shot's typical pair (median + 3 robust
deviations); runs of bad pairs are reported as frame ranges, worst first, so
the artist can re-render exactly that range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from underpaint.errors import InputError
from underpaint.images import read_png
from underpaint.shot.package import ShotPackage

from .warp import PairError, pair_error

# How far above the median (in robust standard deviations) a pair must be to count as bad.
OUTLIER_SIGMAS = 3.0
WORST_RANGES = 5


@dataclass(frozen=True)
class PairScore:
    """Frames (first, first + 1) in Blender numbers, their warp error and the share of pixels compared."""

    first: int
    error: float
    valid_fraction: float


@dataclass
class TemporalReport:
    """What `underpaint qc` prints, writes as JSON and stores with a take as `metrics.temporal`."""

    pairs: list[PairScore]
    median: float
    p95: float
    threshold: float
    worst: list[tuple[int, int]]
    floor: list[PairScore] | None = None
    floor_median: float | None = None
    units: str = "mean |difference| along the shot's motion, 8-bit levels"
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, object]:
        return {
            "units": self.units,
            "median": _round(self.median),
            "p95": _round(self.p95),
            "threshold": _round(self.threshold),
            "worst_ranges": [list(r) for r in self.worst],
            "pairs": [{"frames": [p.first, p.first + 1], "error": _round(p.error),
                       "valid": round(p.valid_fraction, 4)} for p in self.pairs],
            "floor": None if self.floor is None else {
                "median": _round(self.floor_median),
                "pairs": [{"frames": [p.first, p.first + 1], "error": _round(p.error)} for p in self.floor],
            },
            "notes": self.notes,
        }


def _round(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else round(value, 4)


def frame_numbers(package: ShotPackage, frames: tuple[int, int] | None) -> list[int]:
    """The shot's frames within `frames` (inclusive); a range outside the shot is an InputError."""
    numbers = package.frame_numbers
    if frames is None:
        return numbers
    first, last = frames
    chosen = [n for n in numbers if first <= n <= last]
    if len(chosen) < 2:
        raise InputError("invalid_frames", f"frames {first}-{last} hold fewer than two of the shot's frames "
                                           f"{numbers[0]}-{numbers[-1]}")
    return chosen


def _check_motion(package: ShotPackage) -> None:
    if package.shot.passes.motion is None:
        raise InputError(
            "missing_pass",
            f"shot {package.shot.shot!r} has no motion vectors, so its motion cannot be followed; re-export it "
            "with motion vectors (Export Shot with Motion on, or Stylize with Temporal QC on)",
        )


def read_painted(frames_dir: Path, numbers: Sequence[int], size: tuple[int, int]) -> Callable[[int], np.ndarray]:
    """A reader of `frames_dir/####.png` at `size`, after checking every frame is there."""
    if not frames_dir.is_dir():
        raise InputError("missing_files", f"{frames_dir} does not exist or is not a folder of ####.png frames")
    missing = [n for n in numbers if not (frames_dir / f"{n:04d}.png").is_file()]
    if missing:
        shown = ", ".join(f"{n:04d}.png" for n in missing[:5])
        raise InputError("missing_files", f"{frames_dir} lacks {len(missing)} of the shot's frames: {shown}")
    return lambda n: read_png(frames_dir / f"{n:04d}.png", "RGB", size)


def score_pairs(
    numbers: Sequence[int],
    videos: dict[str, Callable[[int], np.ndarray]],
    motion: Callable[[int], np.ndarray],
    on_pair: Callable[[int, PairError], None] | None = None,
) -> dict[str, list[PairScore]]:
    """The warp error of every consecutive pair of `numbers` in each video, decoding each frame's motion once.

    `on_pair` sees the first video's result for each pair (the take's, for heat maps).
    """
    scores: dict[str, list[PairScore]] = {name: [] for name in videos}
    first_video = next(iter(videos))
    previous = {name: read(numbers[0]) for name, read in videos.items()}
    previous_motion = motion(numbers[0])
    for first, second in zip(numbers, numbers[1:], strict=False):
        current = {name: read(second) for name, read in videos.items()}
        current_motion = motion(second)
        for name in videos:
            result = pair_error(previous[name], current[name], previous_motion, current_motion)
            scores[name].append(PairScore(first, result.error, result.valid_fraction))
            if on_pair is not None and name == first_video:
                on_pair(first, result)
        previous, previous_motion = current, current_motion
    return scores


def worst_ranges(pairs: Sequence[PairScore], threshold: float) -> list[tuple[int, int]]:
    """Runs of pairs above `threshold` as (first frame, last frame), worst peak first (none when none stands out)."""
    runs: list[list[PairScore]] = []
    for pair in pairs:
        if not math.isnan(pair.error) and pair.error > threshold:
            if runs and runs[-1][-1].first + 1 == pair.first:
                runs[-1].append(pair)
            else:
                runs.append([pair])
    runs.sort(key=lambda run: -max(p.error for p in run))
    return [(run[0].first, run[-1].first + 1) for run in runs[:WORST_RANGES]]


def summarise(pairs: list[PairScore]) -> TemporalReport:
    errors = np.array([p.error for p in pairs if not math.isnan(p.error)], np.float64)
    if errors.size == 0:
        nan = float("nan")
        report = TemporalReport(pairs, nan, nan, nan, [])
        report.notes.append("no pixel could be followed from one frame to the next")
        return report
    median = float(np.median(errors))
    spread = 1.4826 * float(np.median(np.abs(errors - median)))
    threshold = median + OUTLIER_SIGMAS * max(spread, 0.05 * median, 1e-6)
    return TemporalReport(pairs, median, float(np.percentile(errors, 95)), threshold, worst_ranges(pairs, threshold))


def measure(
    package: ShotPackage,
    frames_dir: Path,
    frames: tuple[int, int] | None = None,
    on_pair: Callable[[int, PairError], None] | None = None,
) -> TemporalReport:
    """The temporal report of the painted frames in `frames_dir` over `package` (and its colour floor)."""
    _check_motion(package)
    numbers = frame_numbers(package, frames)
    if len(numbers) < 2:
        raise InputError("invalid_frames", "temporal QC needs at least two frames")
    size = _painted_size(frames_dir / f"{numbers[0]:04d}.png", package.size)
    videos = {"take": read_painted(frames_dir, numbers, size)}
    if package.has_color():
        videos["floor"] = _scaled_color(package, size)
    scale = (size[0] / package.size[0], size[1] / package.size[1])
    scores = score_pairs(numbers, videos, _motion_reader(package, size, scale), on_pair)
    report = summarise(scores["take"])
    if "floor" in scores:
        report.floor = scores["floor"]
        floor_errors = [p.error for p in report.floor if not math.isnan(p.error)]
        report.floor_median = float(np.median(floor_errors)) if floor_errors else None
    return report


def _painted_size(first: Path, shot_size: tuple[int, int]) -> tuple[int, int]:
    """The painted frames' size: the shot's, or one of the same aspect (a take painted at generation size)."""
    if not first.is_file():
        return shot_size  # read_painted names the missing frames
    with Image.open(first) as image:
        size = image.size
    if abs(size[0] * shot_size[1] - size[1] * shot_size[0]) > max(size[0], size[1]):
        raise InputError(
            "wrong_size",
            f"{first.name} is {size[0]}x{size[1]} but the shot is {shot_size[0]}x{shot_size[1]}: frames of another "
            "aspect ratio were not painted over this shot (or were cropped); score the take's frames as delivered",
        )
    return size


def _motion_reader(package: ShotPackage, size: tuple[int, int], scale: tuple[float, float]) -> Callable[
    [int], np.ndarray
]:
    def read(number: int) -> np.ndarray:
        motion = package.read_passes(number).motion
        assert motion is not None  # _check_motion: the pass is declared, so read_passes decoded it
        if size == package.size:
            return motion
        resized = cv2.resize(motion, size, interpolation=cv2.INTER_NEAREST)
        return resized * np.array([scale[0], scale[1], scale[0], scale[1]], np.float32)

    return read


def _scaled_color(package: ShotPackage, size: tuple[int, int]) -> Callable[[int], np.ndarray]:
    def read(number: int) -> np.ndarray:
        color = package.read_color(number)
        return color if size == package.size else cv2.resize(color, size, interpolation=cv2.INTER_AREA)

    return read
