"""Job kind `rerender`: paint frames [a, b] of a take again; every other frame stays the parent's file.

Params: `parent_take`, `frames` ([first, last] Blender frames, inclusive), optional `context`
and any paint param of `stylize` to change (prompt, seed, steps, controls, ...); the rest are
the parent's. The engine paints the range with `context` of the parent's frames on each side as
fixed context, so the cost follows the range, not the shot (`underpaint.paint.edit`).
"""

from __future__ import annotations

from pydantic import Field

from underpaint.blobs import BlobStore
from underpaint.errors import InputError
from underpaint.jobs.kinds.edits import edit_kind
from underpaint.paint.edit import EditParams, FrameSpan, Region
from underpaint.paint.stylize import StylizePlan
from underpaint.shot.package import ShotPackage
from underpaint.takes.store import Take


class RerenderParams(EditParams):
    frames: FrameSpan = Field(description="Blender frames [first, last] to paint again, inclusive")


def rerender_region(
    params: RerenderParams, parent: Take, plan: StylizePlan, package: ShotPackage, blobs: BlobStore
) -> Region:
    """Whole frames `params.frames`, which must lie within the parent take."""
    first, last = params.frames
    if first < parent.frame_start or last > parent.frame_end:
        raise InputError(
            "frame_out_of_range",
            f"frames {first}-{last} are outside take {parent.id} ({parent.frame_start}-{parent.frame_end})",
        )
    return Region(frames=list(range(first, last + 1)), record={"frames": [first, last]})


KIND = edit_kind("rerender", RerenderParams, rerender_region)
