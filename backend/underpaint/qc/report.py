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
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from underpaint.control.resize import ResizePlan, to_uint8
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
    known: Mapping[str, Mapping[int, PairScore]] | None = None,
) -> dict[str, list[PairScore]]:
    """The warp error of every consecutive pair of `numbers` in each video, decoding each frame's motion once.

    `known[video][first]` is a pair already scored (an edit's parent, where neither frame changed): it is
    taken as is, and frames only such pairs need are never read. `on_pair` sees the first video's
    result for each pair it scores (the take's, for heat maps).
    """
    known = known or {}
    scores: dict[str, list[PairScore]] = {name: [] for name in videos}
    first_video = next(iter(videos))
    frames: dict[tuple[str, int], np.ndarray] = {}
    motions: dict[int, np.ndarray] = {}

    def frame(name: str, number: int) -> np.ndarray:
        if (name, number) not in frames:
            frames[(name, number)] = videos[name](number)
        return frames[(name, number)]

    def motion_of(number: int) -> np.ndarray:
        if number not in motions:
            motions[number] = motion(number)
        return motions[number]

    for first, second in zip(numbers, numbers[1:], strict=False):
        for name in videos:
            reused = known.get(name, {}).get(first)
            if reused is not None:
                scores[name].append(reused)
                continue
            result = pair_error(frame(name, first), frame(name, second), motion_of(first), motion_of(second))
            scores[name].append(PairScore(first, result.error, result.valid_fraction))
            if on_pair is not None and name == first_video:
                on_pair(first, result)
        for key in [k for k in frames if k[1] <= first]:  # only the next pair's frames are kept
            del frames[key]
        motions.pop(first, None)
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
    # Frames of the shot's aspect: the plan is a pure scale.
    plan = ResizePlan.fit(package.size, size, "crop")
    return measure_frames(package, numbers, read_painted(frames_dir, numbers, size), plan, on_pair)


def measure_frames(
    package: ShotPackage,
    numbers: Sequence[int],
    read: Callable[[int], np.ndarray],
    plan: ResizePlan,
    on_pair: Callable[[int, PairError], None] | None = None,
    parent: TemporalReport | None = None,
    changed: Collection[int] = (),
) -> TemporalReport:
    """The temporal report of frames `read(n)` painted over `package` through `plan` (a take's resize).

    With `parent` (the report of the take an edit started from), pairs of which neither frame is in
    `changed` are the parent's, and so is the colour floor: an edit's report costs what it changed.
    """
    _check_motion(package)
    videos = {"take": read}
    if package.has_color():
        videos["floor"] = lambda n: to_uint8(plan.apply(package.read_color(n).astype(np.float32) / 255.0))
    known: dict[str, dict[int, PairScore]] = {}
    if parent is not None:
        changed = set(changed)
        known["take"] = {p.first: p for p in parent.pairs if p.first not in changed and p.first + 1 not in changed}
        if parent.floor is not None:
            known["floor"] = {p.first: p for p in parent.floor}
    scores = score_pairs(numbers, videos, _motion_reader(package, plan), on_pair, known)
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


def _motion_reader(package: ShotPackage, plan: ResizePlan) -> Callable[[int], np.ndarray]:
    """Each frame's Vector pass through the resize plan, in generation pixels (NaN in letterbox bars: never
    compared)."""
    sx0, sy0, sx1, sy1 = plan.source_box
    tx0, ty0, tx1, ty1 = plan.target_box
    scale = np.array([(tx1 - tx0) / (sx1 - sx0), (ty1 - ty0) / (sy1 - sy0)] * 2, np.float32)

    def read(number: int) -> np.ndarray:
        motion = package.read_passes(number).motion
        assert motion is not None  # _check_motion: the pass is declared, so read_passes decoded it
        if plan.size == package.size and plan.target_box == (0, 0, *plan.size):
            return motion
        return plan.apply(motion, fill=float("nan")) * scale

    return read


def report_from_json(data: Mapping[str, Any]) -> TemporalReport:
    """A report as a take's `metrics.temporal` stored it (`TemporalReport.to_json`)."""

    def pairs(items: Any) -> list[PairScore]:
        return [
            PairScore(int(p["frames"][0]), float("nan") if p["error"] is None else float(p["error"]),
                      float(p.get("valid", 0.0)))
            for p in items
        ]

    floor = data.get("floor")
    report = TemporalReport(
        pairs(data["pairs"]), _number(data["median"]), _number(data["p95"]), _number(data["threshold"]),
        [(int(a), int(b)) for a, b in data["worst_ranges"]],
        floor=pairs(floor["pairs"]) if floor else None,
        floor_median=floor.get("median") if floor else None,
    )
    report.notes = list(data.get("notes", []))
    return report


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)
