"""Request and response bodies of HTTP API v1 — the OpenAPI at /docs is generated from these."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, create_model

from underpaint.jobs.context import JobKind

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
JobState = Literal["queued", "running", "done", "failed", "cancelled"]
TakeState = Literal["running", "done", "failed", "cancelled"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ErrorBody(BaseModel):
    code: str = Field(description="stable snake_case code, e.g. hash_mismatch")
    message: str = Field(description="a sentence for the artist naming the problem")


class ErrorOut(BaseModel):
    error: ErrorBody


class ControlOut(BaseModel):
    name: str = Field(description="the control's name in job params (`controls`)")
    label: str
    default_weight: float


class CapabilitiesOut(BaseModel):
    masks: bool = Field(description="refine a region (a repaint mask)")
    references: bool = Field(description="reference images of the wanted look")
    styles: bool = Field(description="styles (LoRAs)")
    video2video: bool = Field(description="start from the rough colour render (use_color)")
    cache: bool = Field(description="the opt-in step cache (job param `cache`): faster, slightly different")
    draft: bool = Field(description="draft models (job param `quality: draft`): a few steps, no guidance")


class DraftOut(BaseModel):
    steps: int = Field(description="denoising steps a draft runs (in place of the job's `steps`)")
    guidance: float = Field(description="the guidance a draft runs with (1: off)")


class ModelOut(BaseModel):
    """A model set and what it can do; the capability fields are absent when its table cannot be read."""

    name: str
    engine: str
    available: bool
    description: str
    detail: str = Field("", description="why a model set is not available (or unusable), and what to do")
    built_locally: bool = Field(False, description="random weights built on this machine (tests, CI): never the "
                                "default, used only when named")
    download_gb: float | None = Field(None, description="approximate download size of its weights")
    vram_gb: float | None = Field(None, description="approximate GPU memory it needs at its native size")
    speed: str = Field("", description="how fast it paints, in words")
    use_for: str = Field("", description="which shots or stage of the work it is the one to pick for")
    controls: list[ControlOut] | None = None
    native_size: tuple[int, int] | None = Field(None, description="[width, height] the model was trained at")
    size_multiple: int | None = Field(None, description="sizes that are multiples of it paint without padding")
    frame_multiple: int | None = Field(None, description="a window's native frame count is k * frame_multiple "
                                       "+ frame_remainder (other counts are padded, never dropped)")
    frame_remainder: int | None = None
    window: int | None = Field(None, description="frames painted together")
    context: int | None = Field(None, description="frames each window repeats; an edit's default context")
    capabilities: CapabilitiesOut | None = None
    draft: DraftOut | None = Field(None, description="the draft's schedule; absent for a set without draft models")


class WorkerOut(BaseModel):
    """One worker (one per device): what it does now, and why it fails when it does."""

    device: str
    state: Literal["starting", "idle", "busy", "stuck", "failing", "stopped"]
    job: str | None
    error: str = Field(description="the first cause, while the worker is failing")
    seconds_in_state: float
    seconds_since_report: float = Field(description="since the running job last reported progress")


class ClusterNodeOut(BaseModel):
    id: str
    address: str
    alive: bool
    cpus: float
    gpus: float


class ClusterActorOut(BaseModel):
    """One paint actor, named after the queue worker that drives it (`ray:0`, ...)."""

    worker: str
    state: Literal["starting", "alive", "lost"] = Field(description="starting: not answering yet (being "
                                                                     "started, or started again by Ray)")
    resources: dict[str, float] = Field(description="what it holds of its node: num_gpus, num_cpus")
    node: str | None = None
    host: str | None = None
    pid: int | None = None
    device: str | None = None
    threads: int | None = Field(None, description="torch intra-op threads (its share of the node's cores)")
    model_set: str | None = Field(None, description="the model set it holds loaded")
    error: str | None = None


class ClusterOut(BaseModel):
    """The Ray cluster the jobs paint on (`serve --ray`)."""

    address: str
    nodes: list[ClusterNodeOut]
    actors: list[ClusterActorOut]


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"] = Field(description="degraded: a worker is failing, stuck or dead")
    workers: list[WorkerOut]
    version: str
    device: str
    devices: list[str]
    engines: list[str]
    models: list[ModelOut]
    default_model: str | None
    auth_required: bool
    job_kinds: list[str]
    cluster: ClusterOut | None = Field(None, description="the Ray cluster's nodes and actors; null: this "
                                                         "machine's devices paint")


class BlobOut(BaseModel):
    sha256: str
    size: int


class MissingIn(_In):
    sha256: list[Sha256] = Field(max_length=200_000)


class MissingOut(BaseModel):
    missing: list[str]


def job_request(kinds: Mapping[str, JobKind]) -> Any:
    """The submit body: one model per kind (`{"kind": name, "shot": sha256, "params": <its params>}`),
    told apart by `kind`."""
    models: list[Any] = [
        create_model(
            f"{''.join(part.capitalize() for part in name.split('_'))}Job",
            __base__=_In,
            __doc__=(kind.params.__doc__ or f"A {name} job.").strip(),
            kind=(Literal[name], Field(description="the job kind")),  # type: ignore[valid-type, arg-type]
            # Checked by the queue (`invalid_sha256`, like every other sha256 in a path or query).
            shot=(str | None, Field(None, max_length=64, description="sha256 of the shot.json blob (kinds that "
                                    "paint a shot)")),
            params=(kind.params, ...),
        )
        for name, kind in sorted(kinds.items())
    ]
    if len(models) == 1:
        return models[0]
    return Annotated[Union[tuple(models)], Field(discriminator="kind")]  # noqa: UP007 (built from a tuple)


class JobCreated(BaseModel):
    id: str


class JobOut(BaseModel):
    id: str
    kind: str
    state: JobState
    progress: float
    frames_done: int
    frames_total: int
    take: str | None
    error: ErrorBody | None
    message: str
    created: str
    started: str | None
    finished: str | None
    elapsed_s: float | None = Field(None, description="seconds since the job started (until it ended)")
    eta_s: float | None = Field(None, description="a running job's estimate of the seconds of painting left")


class JobList(BaseModel):
    jobs: list[JobOut]


class TakeOut(BaseModel):
    id: str
    shot: str
    shot_sha: str | None
    kind: str
    parent: str | None
    params: dict[str, Any] = Field(description="the paint params as given (an edit's: the parent's with the "
                                   "overrides), and `schedule`: the quality, steps and guidance that ran")
    state: TakeState
    frames: list[int] = Field(description="Blender frame numbers whose painted PNG is on disk")
    frame_start: int
    frame_end: int
    width: int
    height: int
    created: str
    finished: str | None
    control: dict[str, Any] = Field(description="depth_range [near, far] and the resize policy used")
    metrics: dict[str, Any]
    work_units: int
    error: str | None


class TakeList(BaseModel):
    takes: list[TakeOut]
