"""Job kind `train_style`: train a style LoRA from uploaded images (blobs) into the style registry.

Params: `name`, `files` (`{"<relative name>": "<blob sha256>"}`: images and optional `NAME.txt`
captions, uploaded first with `POST /v1/blobs`), `model`, `steps`, `rank`, `resolution`, `trigger`,
`force`, and optionally the recipe's `learning_rate`, `batch_size`, `seed`, `gradient_checkpointing`,
`validation_images`, `validation_steps`. The job needs no shot. Every check that needs no model
(settings, name taken, model set, every image's type and size) runs at submit time.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from underpaint.blobs import SHA256, BlobStore, check_sha256
from underpaint.engines.registry import NO_DEFAULT_MODEL
from underpaint.errors import InputError
from underpaint.jobs.context import JobContext, JobKind, Services
from underpaint.paint.context import Progress
from underpaint.shot.package import ShotPackage
from underpaint.styles.dataset import check_relative_name
from underpaint.styles.registry import NAME_PATTERN
from underpaint.styles.request import TrainConfig, check_request

LABEL = "the uploaded images"


class TrainStyleParams(BaseModel):
    """Ranges are checked by `TrainConfig.check`, the one place the CLI and the API share."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=64, json_schema_extra={"pattern": NAME_PATTERN})  # checked: invalid_style_name
    files: dict[str, str] = Field(
        max_length=10_000, description="relative file name -> blob sha256",
        json_schema_extra={"additionalProperties": {"type": "string", "pattern": SHA256.pattern}},
    )
    model: str | None = Field(None, max_length=128, description="model set; default: the server's default")
    steps: int = 1000
    rank: int = 16
    resolution: int = 512
    trigger: str = Field("", max_length=200, description="word that calls the style up; default: the name")
    force: bool = Field(False, description="replace a style of the same name")
    learning_rate: float = 1e-4
    batch_size: int = 1
    seed: int = Field(0, ge=0, le=2**32 - 1)
    gradient_checkpointing: bool = False
    validation_images: int = 2
    validation_steps: int = 20


def train_config(params: TrainStyleParams, services: Services) -> TrainConfig:
    model = params.model or services.default_model()
    if not model:
        raise InputError("no_model", NO_DEFAULT_MODEL)
    fields = params.model_dump(exclude={"files", "model"})
    return TrainConfig(model=model, **fields)


def blob_files(params: TrainStyleParams, blobs: BlobStore) -> dict[str, Path]:
    """The uploaded files by their relative names, each checked to be a safe name and a stored blob."""
    return {check_relative_name(name): blobs.require(check_sha256(sha)) for name, sha in params.files.items()}


def check(params: TrainStyleParams, package: ShotPackage | None, services: Services) -> None:
    check_request(blob_files(params, services.blobs), train_config(params, services), services.data_dir, LABEL)


def run(ctx: JobContext, params: TrainStyleParams) -> None:
    # Imported here, not at the top: the training stack (torch, diffusers, peft) takes seconds to import,
    # and the server imports every job kind at start-up.
    from underpaint.styles.train import TrainProgress, train_style

    def report(progress: TrainProgress) -> None:
        ctx.report(Progress(progress.fraction, 0, 0, progress.message))

    train_style(
        blob_files(params, ctx.services.blobs),
        train_config(params, ctx.services),
        ctx.services.data_dir,
        device=ctx.device,
        label=LABEL,
        on_progress=report,
        check=ctx.check,
    )


KIND = JobKind("train_style", TrainStyleParams, run, check, needs_shot=False)
