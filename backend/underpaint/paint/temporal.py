"""`metrics.temporal` of a new take: its flicker along the shot's motion, recorded as it is sealed.

The same figures as `underpaint qc` (`underpaint.qc`), over the take's own
frames through its resize plan. An edit re-scores only the pairs it changed:
the rest, and the colour floor, are its parent's.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

from underpaint.control.resize import ResizePlan
from underpaint.qc.report import measure_frames, report_from_json
from underpaint.shot.package import ShotPackage
from underpaint.takes.store import TakeStore


def temporal_metrics(
    package: ShotPackage,
    takes: TakeStore,
    take_id: str,
    frames: Sequence[int],
    plan: ResizePlan,
    parent: Mapping[str, Any] | None = None,
    changed: Collection[int] = (),
) -> dict[str, Any]:
    """`{"temporal": report}` when the shot has motion vectors and the take two frames, else nothing.

    `parent` is the parent take's `metrics.temporal` (an edit), `changed` the frames the edit repainted.
    """
    if package.shot.passes.motion is None or len(frames) < 2:
        return {}
    report = measure_frames(
        package, frames, lambda n: takes.read_frame(take_id, n), plan,
        parent=report_from_json(parent) if parent else None, changed=changed,
    )
    return {"temporal": report.to_json()}
