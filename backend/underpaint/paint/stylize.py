"""Stylize a shot: the service behind the `stylize` job and `underpaint stylize`.

    take_id = run_stylize(package, params, takes=takes, engines=cache.get)

reads top to bottom as the method: plan (check the request against the shot),
load the engine, make the control images, build the paint request, create
the take, paint — writing each frame to disk before reporting it, on a
thread of its own while the engine paints on (`frame_writer`) — and seal
the take. It needs no HTTP: the job worker and the command line call it alike.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from underpaint.blobs import SHA256, BlobStore, check_sha256
from underpaint.control import ControlSet, DepthRange, ResizePlan, color_video, default_size, make_controls
from underpaint.control.build import check_control_kinds, missing_color
from underpaint.control.registry import CONTROLS, check_names
from underpaint.engines.base import (
    Cancelled,
    ControlSetting,
    DraftSchedule,
    Engine,
    EngineError,
    PaintRequest,
    PromptSpan,
)
from underpaint.engines.registry import NO_DEFAULT_MODEL, engine_factory, get_model_set
from underpaint.engines.schedule import request_steps
from underpaint.errors import InputError
from underpaint.images import read_png
from underpaint.paint.context import (
    EngineProvider,
    Interrupted,
    PaintServices,
    ProgressCallback,
    StopCheck,
    StyleResolver,
)
from underpaint.paint.engine_clock import EngineClock
from underpaint.paint.frame_writer import FrameWriter
from underpaint.paint.progress import ProgressReporter
from underpaint.paint.temporal import temporal_metrics
from underpaint.shot.package import ShotPackage
from underpaint.styles.registry import NAME_PATTERN
from underpaint.takes.checkpoints import CheckpointStore, TakeCheckpoint
from underpaint.takes.store import Take, TakeStore

# Largest generation size accepted (pixels per frame); 2048x2048 is already far past SD1.5's comfort.
MAX_GENERATION_PIXELS = 2048 * 2048
DEFAULT_LONG_SIDE = 512



def _known_control(name: str) -> str:
    check_names([name])
    return name


# A control's name in job params: one of the control registry's (listed in the OpenAPI schema).
ControlName = Annotated[
    str, AfterValidator(_known_control), WithJsonSchema({"type": "string", "enum": list(CONTROLS)})
]


Quality = Literal["draft", "final"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ControlParams(_Params):
    """How strongly one control steers the painting, and over which part of the denoising schedule."""

    weight: float = Field(1.0, ge=0.0, le=2.0)
    start: float = Field(0.0, ge=0.0, le=1.0)
    end: float = Field(1.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _ordered(self) -> ControlParams:
        if self.end < self.start:
            raise ValueError(f"control end ({self.end}) is before start ({self.start})")
        return self


def depth_only() -> dict[str, ControlParams]:
    """The default controls: depth alone at full weight."""
    return {"depth": ControlParams()}


class PromptKey(_Params):
    """From Blender frame `frame` on, paint with `prompt`."""

    frame: int
    prompt: str = Field(min_length=1, max_length=2000)


class StyleParams(_Params):
    name: str = Field(pattern=NAME_PATTERN)
    weight: float = Field(1.0, ge=-2.0, le=2.0)


class PaintParams(_Params):
    """What to paint and how: shared by every kind that paints (stylize, rerender, refine)."""

    prompt: str = Field("", max_length=2000)
    negative_prompt: str = Field("", max_length=2000)
    prompts: list[PromptKey] = Field(default_factory=list, max_length=1000)
    model: str | None = Field(None, max_length=128, description="model set; default: the server's default")
    seed: int = Field(0, ge=0, le=2**32 - 1)
    steps: int = Field(20, ge=1, le=150)
    guidance: float = Field(7.5, ge=0.0, le=30.0)
    width: int | None = Field(None, ge=8, le=4096, multiple_of=8)
    height: int | None = Field(None, ge=8, le=4096, multiple_of=8)
    controls: dict[ControlName, ControlParams] = Field(default_factory=depth_only)
    use_color: bool = False
    strength: float = Field(0.6, gt=0.0, le=1.0)
    styles: list[StyleParams] = Field(default_factory=list, max_length=8)
    references: list[str] = Field(
        default_factory=list, max_length=4,
        description="blob sha256s of PNG reference images carrying the look (engines that take them: wan-vace)",
        json_schema_extra={"items": {"type": "string", "pattern": SHA256.pattern}},  # checked: invalid_sha256
    )
    fit: Literal["crop", "letterbox"] = "crop"
    cache: bool = Field(
        False,
        description="reuse predicted transformer work between denoising steps (model sets whose health "
        "lists the `cache` capability: wan-vace): fewer attention computations, a slightly different painting",
    )
    quality: Quality = Field(
        "final",
        description="draft: the model set's step-distilled draft models, with the schedule its health lists "
        "under `draft` (a few steps, no guidance) in place of `steps` and `guidance`, which the take keeps for "
        "a final re-render; final: the full schedule",
    )

    @field_validator("references")
    @classmethod
    def _blob_ids(cls, value: list[str]) -> list[str]:
        return [check_sha256(sha) for sha in value]


class StylizeParams(PaintParams):
    # The schema says what `_some_prompt` checks: a prompt that is not blank, or a prompt schedule.
    model_config = ConfigDict(json_schema_extra={"anyOf": [
        {"required": ["prompt"], "properties": {"prompt": {"pattern": r"\S"}}},
        {"required": ["prompts"], "properties": {"prompts": {"minItems": 1}}},
    ]})

    frames: tuple[int, int] | None = Field(None, description="Blender frames [first, last], inclusive")

    @field_validator("frames")
    @classmethod
    def _ordered(cls, value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and value[1] < value[0]:
            raise ValueError(f"frames [{value[0]}, {value[1]}]: the last frame is before the first")
        return value

    @model_validator(mode="after")
    def _some_prompt(self) -> StylizeParams:
        if not self.prompt.strip() and not self.prompts:
            raise ValueError("give a prompt (or a prompt schedule in 'prompts')")
        return self


@dataclass(frozen=True)
class StylizePlan:
    """A request checked against its shot: the frames, size, model and prompts the take will use."""

    frames: list[int]
    size: tuple[int, int]
    model: str
    resize: ResizePlan
    prompts: list[PromptSpan]


def generation_size(package: ShotPackage, width: int | None, height: int | None) -> tuple[int, int]:
    """The requested size; a missing side follows the shot's aspect (multiple of 8)."""
    sw, sh = package.size
    if width and height:
        size = (width, height)
    elif width:
        size = (width, max(8, round(width * sh / sw / 8) * 8))
    elif height:
        size = (max(8, round(height * sw / sh / 8) * 8), height)
    else:
        size = default_size(package.size, DEFAULT_LONG_SIDE)
    if size[0] * size[1] > MAX_GENERATION_PIXELS:
        raise InputError("invalid_params", f"{size[0]}x{size[1]} exceeds {MAX_GENERATION_PIXELS} pixels per frame")
    return size


def frame_range(package: ShotPackage, frames: tuple[int, int] | None) -> list[int]:
    """Blender frame numbers of the range (the whole shot by default), refusing ranges outside the shot."""
    shot = package.shot
    first, last = frames or (shot.frame_start, shot.frame_end)
    if first < shot.frame_start or last > shot.frame_end:
        raise InputError(
            "frame_out_of_range",
            f"frames {first}-{last} are outside shot {shot.shot!r} ({shot.frame_start}-{shot.frame_end})",
        )
    return list(range(first, last + 1))


def prompt_spans(params: PaintParams, package: ShotPackage, frames: list[int]) -> list[PromptSpan]:
    """The prompt schedule as spans over the request's frames (index 0 = first frame of the range)."""
    shot = package.shot
    outside = [k.frame for k in params.prompts if not shot.frame_start <= k.frame <= shot.frame_end]
    if outside:
        raise InputError("frame_out_of_range", f"prompt schedule names frames outside the shot: {outside[:5]}")
    spans = [PromptSpan(0, params.prompt)] if params.prompt.strip() else []
    for key in sorted(params.prompts, key=lambda k: k.frame):
        if key.frame <= frames[-1]:
            spans.append(PromptSpan(max(0, key.frame - frames[0]), key.prompt))
    if not spans:
        spans = [PromptSpan(0, min(params.prompts, key=lambda k: k.frame).prompt)]
    return [PromptSpan(0, spans[0].prompt), *spans[1:]]


def plan_stylize(package: ShotPackage, params: StylizeParams, default_model: str | None = None) -> StylizePlan:
    """Check `params` against the shot (raises `InputError`) and settle every default."""
    frames = frame_range(package, params.frames)
    size = generation_size(package, params.width, params.height)
    model = params.model or default_model
    if not model:
        raise InputError("no_model", NO_DEFAULT_MODEL)
    check_control_kinds(package, params.controls)
    if params.use_color and not package.has_color():
        raise missing_color(package)
    resize = ResizePlan.fit(package.size, size, params.fit)
    return StylizePlan(frames, size, model, resize, prompt_spans(params, package, frames))


def check_stylize(params: PaintParams, plan: StylizePlan, services: PaintServices) -> None:
    """Refuse at submit what would fail later: the model set, controls it lacks, styles, reference images.

    The shot-level checks (frames, passes, colour render) are `plan_stylize`'s.
    """
    try:
        model_set = get_model_set(plan.model, services.data_dir)
        capabilities = engine_factory(model_set.engine).capabilities(model_set, services.data_dir)
    except EngineError as exc:
        raise InputError("unknown_model", str(exc)) from exc
    lacking = [name for name in params.controls if name not in capabilities.controls]
    if lacking:
        raise InputError(
            "unsupported_control",
            f"model set {plan.model!r} has no {', '.join(lacking)} control; it has {', '.join(capabilities.controls)}",
        )
    if params.references and not capabilities.references:
        raise InputError(
            "unsupported_references",
            f"model set {plan.model!r} takes no reference images; carry the look with a style, or paint with a "
            "model set that takes them",
        )
    if params.cache and not capabilities.cache:
        raise InputError(
            "unsupported_cache",
            f"model set {plan.model!r} has no step cache; paint without 'cache', or with a model set that has one",
        )
    if params.quality == "draft" and capabilities.draft is None:
        raise InputError("unsupported_draft", no_draft(plan.model))
    if params.styles:
        if services.resolve_style is None:
            raise InputError("unknown_style", "this server has no style registry; remove 'styles' from the request")
        for style in params.styles:
            services.resolve_style(style.name, style.weight)
    load_references(services.blobs, params.references)
    services.takes.check_room(len(plan.frames), *plan.size)


def no_draft(model: str) -> str:
    return (
        f"model set {model!r} has no draft models; paint in final quality, or with a model set whose health "
        "lists a draft (models.toml: its `draft` table)"
    )


def load_references(blobs: BlobStore, shas: list[str]) -> list[np.ndarray]:
    """The reference images a request names, decoded (checked at submit, read again when painting)."""
    return [read_png(blobs.require(sha), "RGB", label=f"reference image {sha[:12]}") for sha in shas]


def paint_request(
    params: PaintParams,
    plan: StylizePlan,
    controls: ControlSet,
    init_video: np.ndarray | None,
    resolve_style: StyleResolver | None,
    references: list[np.ndarray] | None = None,
    draft: DraftSchedule | None = None,
) -> PaintRequest:
    """The engine's request for `params` over `plan`; a draft paints with `draft`, the set's draft schedule."""
    if params.styles and resolve_style is None:
        raise InputError("unknown_style", "this server has no style registry; remove 'styles' from the request")
    styles = [resolve_style(s.name, s.weight) for s in params.styles] if resolve_style else []
    drafting = params.quality == "draft"
    if drafting and draft is None:
        raise InputError("unsupported_draft", no_draft(plan.model))
    steps, guidance = (draft.steps, draft.guidance) if drafting and draft else (params.steps, params.guidance)
    return PaintRequest(
        prompts=plan.prompts,
        width=plan.size[0],
        height=plan.size[1],
        num_frames=len(plan.frames),
        negative_prompt=params.negative_prompt,
        steps=steps,
        guidance=guidance,
        seed=params.seed,
        controls=controls.images,
        control_settings={k: ControlSetting(c.weight, c.start, c.end) for k, c in params.controls.items()},
        init_video=init_video,
        strength=params.strength,
        styles=styles,
        reference_images=list(references or []),
        cache=params.cache,
        draft=drafting,
    )


def schedule_record(request: PaintRequest) -> dict[str, Any]:
    """What the take records of the schedule that ran (a draft's differs from the params' steps and guidance)."""
    return {"quality": "draft" if request.draft else "final", "steps": request.steps, "guidance": request.guidance}


def prepare_paint(
    package: ShotPackage,
    params: PaintParams,
    plan: StylizePlan,
    engines: EngineProvider,
    progress: ProgressReporter,
    stop: Callable[[], None],
    resolve_style: StyleResolver | None,
    references: list[np.ndarray] | None,
    shot_range: DepthRange | None = None,
) -> tuple[Engine, ControlSet, PaintRequest]:
    """Load the engine, make the control images (and colour video) for `plan`, and build the request."""
    progress.say(f"loading model set {plan.model}")
    engine = engines(plan.model)
    stop()
    progress.say("making control images")
    controls = make_controls(
        package, plan.frames, plan.resize, list(params.controls), shot_range, on_frame=lambda i: stop()
    )
    init_video = color_video(package, plan.frames, plan.resize) if params.use_color else None
    request = paint_request(
        params, plan, controls, init_video, resolve_style, references, engine.capabilities.draft
    )
    return engine, controls, request


def run_stylize(
    package: ShotPackage,
    params: StylizeParams,
    *,
    takes: TakeStore,
    engines: EngineProvider,
    default_model: str | None = None,
    report: ProgressCallback | None = None,
    check: StopCheck | None = None,
    on_take: Callable[[str], None] | None = None,
    resolve_style: StyleResolver | None = None,
    references: list[np.ndarray] | None = None,
    checkpoints: CheckpointStore | None = None,
    resume: str | None = None,
) -> str:
    """Paint `package` into a new take (or on into running take `resume`) and return its id.

    `engines(model_set_name)` returns a loaded engine; `report` receives
    progress (a frame is counted only once its file is on disk); `check` is
    called at every step and raises `Cancelled` to stop — the take then keeps
    its frames and is marked cancelled, and `Cancelled` propagates. `on_take`
    learns the take id as soon as the take exists. With `checkpoints` the
    engine saves its state every few steps; a job interrupted by a shutdown
    then leaves its take running, to `resume` from that state.
    """
    stop = check or (lambda: None)
    plan = plan_stylize(package, params, default_model)
    progress = ProgressReporter(report, len(plan.frames))
    engine, controls, request = prepare_paint(
        package, params, plan, engines, progress, stop, resolve_style, references
    )
    progress.painting(request_steps(request))
    resolved = params.model_copy(update={
        "model": plan.model, "width": plan.size[0], "height": plan.size[1],
        "frames": (plan.frames[0], plan.frames[-1]),
    })
    record = {**resolved.model_dump(mode="json"), "schedule": schedule_record(request)}
    take = resumed_take(takes, resume, package) if resume else takes.create(
        shot=package.shot.shot, shot_sha=package.sha256, kind="stylize", params=record,
        frame_start=plan.frames[0], frame_end=plan.frames[-1], width=plan.size[0], height=plan.size[1],
        control=controls.metadata(), work_units=engine.work_units(request),
    )
    if on_take is not None:
        on_take(take.id)
    present = set(take.frames)  # a resumed take's frames on disk already
    progress.frames = len(present)

    def write(frame: int, rgb: np.ndarray) -> None:
        if frame in present:
            return
        takes.write_frame(take.id, frame, rgb)
        progress.frame_written(frame)

    clock = EngineClock()

    def paint() -> None:
        with FrameWriter(write) as writer:
            if checkpoints is not None:
                request.checkpoint = checkpoints.of(take.id, before_save=writer.flush)
            for frame, rgb in painted_frames(
                engine, request, plan.frames, progress.stepper(stop), clock, present
            ):
                writer.put(frame, rgb)

    def measure() -> dict[str, Any]:
        progress.say("measuring flicker along the shot's motion")
        return temporal_metrics(package, takes, take.id, plan.frames, plan.resize)

    record_painting(takes, take.id, paint, measure, clock, checkpoints.of(take.id) if checkpoints else None)
    progress.say("done")
    return take.id


def resumed_take(takes: TakeStore, take_id: str, package: ShotPackage) -> Take:
    """The running take a job paints on into after a restart."""
    take = takes.get(take_id)
    if take.state != "running" or take.shot != package.shot.shot:
        raise InputError("not_resumable", f"take {take_id} is {take.state} (shot {take.shot!r}); it cannot be resumed")
    return take


def painted_frames(
    engine: Engine,
    request: PaintRequest,
    frames: list[int],
    on_step: Callable[[int, int], None],
    clock: EngineClock | None = None,
    present: set[int] | frozenset[int] = frozenset(),
) -> Iterator[tuple[int, np.ndarray]]:
    """The engine's painting of `frames` as (Blender frame, RGB) pairs, checked to come once each, in order
    (the engine's own time counted on `clock`). A paint resumed from its checkpoint may start later: the
    frames it skips must all be `present` (on disk already)."""
    clock = clock or EngineClock()
    done = 0
    for chunk in clock.timed(engine.paint(request, clock.outside(on_step))):
        if chunk.start > done and done == 0 and all(f in present for f in frames[: chunk.start]):
            done = chunk.start
        if chunk.start != done:
            raise EngineError(f"engine yielded frames from {chunk.start}, expected {done}")
        for offset, rgb in enumerate(chunk.frames):
            yield frames[done + offset], rgb
        done += len(chunk.frames)
    if done != len(frames):
        raise EngineError(f"engine painted {done} of {len(frames)} frames")


def record_painting(
    takes: TakeStore,
    take_id: str,
    paint: Callable[[], None],
    measure: Callable[[], dict[str, Any]],
    clock: EngineClock,
    checkpoint: TakeCheckpoint | None = None,
) -> None:
    """Run `paint` and seal take `take_id` as it ended, re-raising any exception.

    Done: with `paint_seconds`, `engine_seconds` (the engine's own share of them, from `clock`) and the
    metrics `measure` returns afterwards. Cancelled: with the frames painted so far and both times.
    Failed (`measure` failing included): with the error. Interrupted (a shutdown) with a `checkpoint` saved:
    left running, to resume. The checkpoint is removed on every other end.
    """
    started = time.perf_counter()

    def times() -> dict[str, float]:
        return {"paint_seconds": time.perf_counter() - started, "engine_seconds": clock.seconds}

    try:
        paint()
        metrics: dict[str, Any] = times()
        metrics.update(measure())
    except Cancelled:
        takes.finish(take_id, "cancelled", times())
        _remove(checkpoint)
        raise
    except BaseException as exc:
        if isinstance(exc, Interrupted) and checkpoint is not None and checkpoint.exists():
            raise  # left running: its job resumes from the checkpoint
        takes.finish(take_id, "failed", error=f"{type(exc).__name__}: {exc}")
        _remove(checkpoint)
        raise
    takes.finish(take_id, "done", metrics)
    _remove(checkpoint)


def _remove(checkpoint: TakeCheckpoint | None) -> None:
    if checkpoint is not None:
        checkpoint.remove()
