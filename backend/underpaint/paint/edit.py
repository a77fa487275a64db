"""Edit a take — "fix this part only": the service behind the `rerender` and `refine` job kinds.

    plan = plan_edit(package, params, rerender_region, services)
    take_id = run_edit(package, plan, "rerender", takes=takes, engines=cache.get)

An edit reads as the method:

1. the parent: a finished, complete take of the same shot; it is only read;
2. the paint params: the parent's, with the request's overrides (and a new
   seed unless one is given: an edit is a new attempt);
3. the region (`Region`, from the kind): the frames and, for a refinement,
   the masks to repaint;
4. the span the engine paints: the region's frames plus `context` already
   painted frames on each side, clipped to the take. Every frame of the span
   is known (the parent's pixels) and kept wherever the repaint mask is 0;
   the engine's per-step latent blend makes the new frames join the kept
   ones. The cost grows with the span, never with the shot length;
5. a new take (parent, kind, region) written in frame order: outside the
   span, and in frames the region leaves alone, the parent's files byte for
   byte; in edited frames the pixel composite (`underpaint.takes.composite`);
6. seam figures (`underpaint.takes.seams`) in the take's metrics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, create_model

from underpaint.blobs import BlobStore
from underpaint.control import DepthRange
from underpaint.engines.base import Engine, EngineError
from underpaint.engines.registry import ModelSet, engine_factory, get_model_set
from underpaint.engines.schedule import request_steps
from underpaint.errors import InputError
from underpaint.paint.context import PaintServices, ProgressCallback, StopCheck, StyleResolver
from underpaint.paint.engine_clock import EngineClock
from underpaint.paint.frame_writer import FrameWriter
from underpaint.paint.progress import ProgressReporter
from underpaint.paint.stylize import (
    PaintParams,
    StylizeParams,
    StylizePlan,
    check_stylize,
    frame_range,
    painted_frames,
    plan_stylize,
    prepare_paint,
    record_painting,
    resumed_take,
    schedule_record,
)
from underpaint.paint.temporal import temporal_metrics
from underpaint.shot.package import ShotPackage, describe_validation_error
from underpaint.takes.checkpoints import CheckpointStore
from underpaint.takes.composite import composite, copy_frame, feathered_alpha
from underpaint.takes.seams import edit_seams
from underpaint.takes.store import TAKE_ID, Take, TakeStore

# Kept from the parent whatever the request says: the pixels outside an edit ARE the parent's.
PARENT_ONLY = ("width", "height", "fit")


def _overrides(model: type[BaseModel]) -> dict[str, Any]:
    """`model`'s fields (less `PARENT_ONLY`), each optional with None = the parent's value, constraints kept."""
    fields: dict[str, Any] = {}
    for name, info in model.model_fields.items():
        if name in PARENT_ONLY:
            continue
        annotation: Any = Annotated[info.annotation, *info.metadata] if info.metadata else info.annotation
        fields[name] = (annotation | None, Field(None, description=info.description))
    return fields


PaintOverrides = create_model(
    "PaintOverrides", __config__=ConfigDict(extra="forbid"), **_overrides(PaintParams)
)


class EditParams(PaintOverrides):  # type: ignore[misc,valid-type]
    """The take to edit; any paint param given replaces the parent's, the rest are the parent's."""

    parent_take: str = Field(pattern=TAKE_ID.pattern, description="id of the take to edit")
    context: int | None = Field(
        None, ge=0, le=64,
        description="painted frames on each side that the engine sees as fixed context; default: the model "
        "set's window context (the frames each of its windows repeats from the previous one)",
    )


def _ordered(value: tuple[int, int]) -> tuple[int, int]:
    if value[1] < value[0]:
        raise ValueError(f"frames [{value[0]}, {value[1]}]: the last frame is before the first")
    return value


# Blender frames [first, last], inclusive.
FrameSpan = Annotated[tuple[int, int], AfterValidator(_ordered)]


@dataclass(frozen=True)
class Region:
    """What an edit repaints: `frames` (Blender numbers, ascending, at least one) and, for a
    refinement, a binary float32 (H, W) mask per frame at the take's size (None: whole frames).

    `record` is how the new take's params describe the region.
    """

    frames: list[int]
    masks: dict[int, np.ndarray] | None = None
    feather: int = 0
    record: dict[str, Any] = field(default_factory=dict)

    def repaint_mask(self, frame: int, size: tuple[int, int]) -> np.ndarray:
        """float32 (H, W), 1 = repaint: the frame's mask, all 1 for a whole frame, all 0 for context."""
        width, height = size
        if frame not in self.frames:
            return np.zeros((height, width), np.float32)
        if self.masks is None:
            return np.ones((height, width), np.float32)
        return self.masks[frame]


# (params, parent take, plan over the parent's frames, shot package, blobs) -> the region to repaint.
RegionBuilder = Callable[[Any, Take, StylizePlan, ShotPackage, BlobStore], Region]


@dataclass(frozen=True)
class EditPlan:
    """A checked edit: the parent, what the engine paints (`params` and `plan` over the span), the region."""

    parent: Take
    params: StylizeParams
    plan: StylizePlan
    region: Region
    record: dict[str, Any]


def editable_parent(takes: TakeStore, take_id: str, package: ShotPackage) -> Take:
    """The parent take, refused unless it is finished, complete and of this shot."""
    parent = takes.get(take_id)
    if parent.state != "done":
        raise InputError("parent_not_done", f"take {parent.id} is {parent.state}; only a finished take can be edited")
    if parent.shot != package.shot.shot:
        raise InputError("wrong_shot", f"take {parent.id} is of shot {parent.shot!r}, not {package.shot.shot!r}")
    missing = sorted(set(range(parent.frame_start, parent.frame_end + 1)) - set(parent.frames))
    if missing:
        raise InputError("parent_incomplete", f"take {parent.id} lacks frames {missing[:10]}; it cannot be edited")
    frame_range(package, (parent.frame_start, parent.frame_end))
    return parent


def paint_params(parent: Take, params: EditParams, frames: tuple[int, int]) -> StylizeParams:
    """The parent's paint params with the request's overrides, over Blender frames `frames`, at its size."""
    inherited = {k: v for k, v in parent.params.items() if k in PaintParams.model_fields}
    given = params.model_dump(mode="json", include=set(PaintOverrides.model_fields), exclude_none=True)
    seed = given.get("seed", (int(inherited.get("seed", 0)) + 1) % 2**32)
    try:
        return StylizeParams.model_validate(
            {**inherited, **given, "seed": seed, "width": parent.width, "height": parent.height, "frames": frames}
        )
    except ValidationError as exc:
        raise InputError("invalid_params", f"params: {describe_validation_error(exc)}", 422) from exc


def context_frames(model_set: ModelSet, data_dir: Path, requested: int | None) -> int:
    """The frames an edit keeps on each side: as requested, else the model set's own window context."""
    if requested is not None:
        return requested
    try:
        return engine_factory(model_set.engine).capabilities(model_set, data_dir).context
    except EngineError as exc:
        raise InputError("unknown_model", str(exc)) from exc


def plan_edit(
    package: ShotPackage,
    params: EditParams,
    region_of: RegionBuilder,
    services: PaintServices,
    *,
    check: bool = True,
) -> EditPlan:
    """Check an edit against its parent and shot (raises `InputError`) and settle the span it paints.

    `check` also refuses what a stylize would (model set, controls, styles, reference images): at
    submit; the worker, planning the checked job again, skips it (and so decodes no image twice).
    """
    parent = editable_parent(services.takes, params.parent_take, package)
    whole = paint_params(parent, params, (parent.frame_start, parent.frame_end))
    whole_plan = plan_stylize(package, whole, services.default_model())
    if check:
        check_stylize(whole, whole_plan, services)
    region = region_of(params, parent, whole_plan, package, services.blobs)
    context = context_frames(get_model_set(whole_plan.model, services.data_dir), services.data_dir, params.context)
    span = (max(parent.frame_start, region.frames[0] - context), min(parent.frame_end, region.frames[-1] + context))
    span_params = whole.model_copy(update={"frames": span})
    record = {
        **whole.model_dump(mode="json", exclude={"frames"}), "model": whole_plan.model,
        "parent_take": parent.id, **region.record, "context": context, "span": list(span),
    }
    return EditPlan(parent, span_params, plan_stylize(package, span_params, whole_plan.model), region, record)


def _known_frames(takes: TakeStore, plan: EditPlan) -> tuple[np.ndarray, np.ndarray]:
    """The parent's pixels over the span and where to repaint them, as the engine takes them."""
    frames = plan.plan.frames
    known = np.stack([takes.read_frame(plan.parent.id, f) for f in frames])
    mask = np.stack([plan.region.repaint_mask(f, plan.plan.size) for f in frames])
    return known, mask


def _parent_depth_range(parent: Take) -> DepthRange | None:
    """The parent's depth normalisation: new frames must see the same depth picture as their neighbours."""
    stored = parent.control.get("depth_range")
    return DepthRange(*stored) if stored else None


class _EditWriter:
    """Writes the new take in frame order: parent files, painted frames, composites."""

    def __init__(
        self, takes: TakeStore, plan: EditPlan, take: Take, progress: ProgressReporter
    ) -> None:
        self.takes, self.plan, self.take_id, self.progress = takes, plan, take.id, progress
        self.present = set(take.frames)  # a resumed take's frames on disk already
        progress.frames = len(self.present)

    def copy(self, frames: range) -> None:
        for frame in frames:
            if frame in self.present:
                continue
            copy_frame(self.takes, self.plan.parent.id, self.take_id, frame)
            self.progress.frame_written(frame)

    def painted(self, frame: int, rgb: np.ndarray) -> None:
        region = self.plan.region
        if frame in self.present:
            return
        if frame not in region.frames:
            copy_frame(self.takes, self.plan.parent.id, self.take_id, frame)
        elif region.masks is None:
            self.takes.write_frame(self.take_id, frame, rgb)
        else:
            parent = self.takes.read_frame(self.plan.parent.id, frame)
            alpha = feathered_alpha(region.masks[frame], region.feather)
            self.takes.write_frame(self.take_id, frame, composite(parent, rgb, alpha))
        self.progress.frame_written(frame)


def run_edit(
    package: ShotPackage,
    plan: EditPlan,
    kind: str,
    *,
    takes: TakeStore,
    engines: Callable[[str], Engine],
    report: ProgressCallback | None = None,
    check: StopCheck | None = None,
    on_take: Callable[[str], None] | None = None,
    resolve_style: StyleResolver | None = None,
    references: list[np.ndarray] | None = None,
    checkpoints: CheckpointStore | None = None,
    resume: str | None = None,
) -> str:
    """Paint the edit into a new take of kind `kind` (or on into running take `resume`) and return its id
    (cancel, failure, checkpoints and resuming as `run_stylize`)."""
    stop = check or (lambda: None)
    parent, span = plan.parent, plan.plan
    progress = ProgressReporter(report, parent.frame_end - parent.frame_start + 1)
    engine, controls, request = prepare_paint(
        package, plan.params, span, engines, progress, stop, resolve_style, references, _parent_depth_range(parent)
    )
    progress.painting(request_steps(request))
    request.known, request.repaint_mask = _known_frames(takes, plan)
    take = resumed_take(takes, resume, package) if resume else takes.create(
        shot=package.shot.shot, shot_sha=package.sha256, kind=kind,
        params={**plan.record, "schedule": schedule_record(request)},
        frame_start=parent.frame_start, frame_end=parent.frame_end, width=parent.width, height=parent.height,
        parent=parent.id, control=controls.metadata(), work_units=engine.work_units(request),
    )
    if on_take is not None:
        on_take(take.id)

    clock = EngineClock()

    def paint() -> None:
        """Parent frames before the span, the span painted and composited, parent frames after it."""
        writer = _EditWriter(takes, plan, take, progress)
        writer.copy(range(parent.frame_start, span.frames[0]))
        with FrameWriter(writer.painted) as background:
            if checkpoints is not None:
                request.checkpoint = checkpoints.of(take.id, before_save=background.flush)
            for frame, rgb in painted_frames(
                engine, request, span.frames, progress.stepper(stop), clock, writer.present
            ):
                background.put(frame, rgb)
        writer.copy(range(span.frames[-1] + 1, parent.frame_end + 1))

    def measure() -> dict[str, Any]:
        seams = edit_seams(
            lambda f: takes.read_frame(take.id, f), lambda f: takes.read_frame(parent.id, f), plan.region.frames,
            (parent.frame_start, parent.frame_end), plan.region.masks, plan.region.feather,
        )
        progress.say("measuring flicker along the shot's motion")
        temporal = temporal_metrics(
            package, takes, take.id, list(range(parent.frame_start, parent.frame_end + 1)), span.resize,
            parent=parent.metrics.get("temporal"), changed=plan.region.frames,
        )
        return {"seams": seams, **temporal}

    record_painting(takes, take.id, paint, measure, clock, checkpoints.of(take.id) if checkpoints else None)
    progress.say("done")
    return take.id
