"""Job kind `refine`: repaint only inside a mask sequence; every pixel outside it stays the parent's.

Params: `parent_take`; `mask` = `objects` (names from the shot's object index), `frames`
(`{"<Blender frame>": "<sha256 of an uploaded PNG>"}`, white = repaint, painted at the take's
size or the shot's resolution), both unioned, grown by `dilate` pixels and blended in over a
`feather` inside the mask; optional `frames` ([first, last]) limits the refinement; optional
`context` and paint params as for `rerender`. A mask that covers no pixel is refused at submit,
never turned into a silent copy of the parent.
"""

from __future__ import annotations

from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from underpaint.blobs import SHA256, BlobStore
from underpaint.control import object_masks
from underpaint.errors import InputError
from underpaint.images import read_png
from underpaint.jobs.kinds.edits import edit_kind
from underpaint.paint.edit import EditParams, FrameSpan, Region
from underpaint.paint.stylize import StylizePlan
from underpaint.shot.package import ShotPackage
from underpaint.takes.composite import dilate
from underpaint.takes.store import Take

Sha256 = Annotated[str, Field(pattern=SHA256.pattern)]


class MaskParams(BaseModel):
    """Where to repaint: named objects, painted mask frames, or both (unioned)."""

    # The schema says what `_something` checks: at least one object or one mask frame.
    model_config = ConfigDict(extra="forbid", json_schema_extra={"anyOf": [
        {"required": ["objects"], "properties": {"objects": {"minItems": 1}}},
        {"required": ["frames"], "properties": {"frames": {"minProperties": 1}}},
    ]})

    objects: list[str] = Field(default_factory=list, max_length=256, description="object names")
    frames: dict[int, Sha256] = Field(
        default_factory=dict, max_length=100_000,
        description="Blender frame -> sha256 of an uploaded mask PNG (white = repaint)",
        json_schema_extra={"propertyNames": {"pattern": r"^-?[0-9]+$"}},  # JSON keys: the frame numbers
    )
    dilate: int = Field(0, ge=0, le=256, description="grow the mask by this many pixels (take size)")
    feather: int = Field(4, ge=0, le=256, description="pixels inside the mask edge over which the painting fades in")

    @model_validator(mode="after")
    def _something(self) -> MaskParams:
        if not self.objects and not self.frames:
            raise ValueError("give mask 'objects' (names), painted mask 'frames', or both")
        return self


class RefineParams(EditParams):
    mask: MaskParams
    frames: FrameSpan | None = Field(None, description="Blender frames [first, last] to refine; default all")


def painted_mask(blobs: BlobStore, sha256: str, frame: int, plan: StylizePlan) -> np.ndarray:
    """An uploaded mask PNG at the take's size: white = repaint, black = keep, grey a blend weight (a feather)."""
    label = f"mask for frame {frame}"
    gray = read_png(blobs.require(sha256), "L", label=label).astype(np.float32) / 255.0
    size = (gray.shape[1], gray.shape[0])
    if size == plan.size:
        return gray
    if size == plan.resize.source_size:
        return np.clip(plan.resize.apply(gray), 0.0, 1.0)
    raise InputError(
        "resolution_mismatch",
        f"{label} is {size[0]}x{size[1]}; paint it at the take's size {plan.size[0]}x{plan.size[1]} "
        f"or the shot's {plan.resize.source_size[0]}x{plan.resize.source_size[1]}",
    )


def refine_region(
    params: RefineParams, parent: Take, plan: StylizePlan, package: ShotPackage, blobs: BlobStore
) -> Region:
    """The union of the object and painted masks, dilated, over the frames that have any of it."""
    first, last = params.frames or (parent.frame_start, parent.frame_end)
    if first < parent.frame_start or last > parent.frame_end:
        raise InputError(
            "frame_out_of_range",
            f"frames {first}-{last} are outside take {parent.id} ({parent.frame_start}-{parent.frame_end})",
        )
    mask = params.mask
    stray = sorted(f for f in mask.frames if not first <= f <= last)
    if stray:
        raise InputError("frame_out_of_range", f"mask frames {stray[:5]} are outside the refined frames {first}-{last}")
    frames = list(range(first, last + 1))
    width, height = plan.size
    union = {f: np.zeros((height, width), np.float32) for f in frames}
    if mask.objects:
        # Any coverage counts: a pixel an object touches carries its colour.
        for frame, coverage in zip(frames, object_masks(package, frames, plan.resize, mask.objects), strict=True):
            union[frame] = (coverage > 0).astype(np.float32)
    for frame, sha in mask.frames.items():
        union[frame] = np.maximum(union[frame], painted_mask(blobs, sha, frame, plan))
    masks = {f: dilate(m, mask.dilate) for f, m in union.items() if m.any()}
    if not masks:
        named = f"objects {mask.objects} and " if mask.objects else ""
        raise InputError(
            "empty_mask",
            f"the mask is empty: {named}{len(mask.frames)} painted frames cover no pixel of frames {first}-{last}; "
            "nothing to refine",
        )
    record = {
        "frames": list(params.frames) if params.frames else None,
        "mask": mask.model_dump(mode="json"),
        "masked_frames": sorted(masks),
    }
    return Region(frames=sorted(masks), masks=masks, feather=mask.feather, record=record)


KIND = edit_kind("refine", RefineParams, refine_region)
