"""What the paint services are given: the stores they read and write, and the callbacks of a long job.

The job worker and `underpaint stylize` both build these; nothing here knows
about the queue or HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from underpaint.blobs import BlobStore
from underpaint.engines.base import Engine, StyleRef
from underpaint.takes.checkpoints import CheckpointStore
from underpaint.takes.store import TakeStore


class Interrupted(Exception):
    """The server is shutting down: the job stops and is recorded as failed ('interrupted'), not cancelled,
    unless its painting saved a checkpoint to resume from."""


@dataclass(frozen=True)
class Progress:
    """A progress report: overall fraction 0..1, frames safely on disk, a line for the artist, and the
    estimated seconds of painting left (None until the pace is known)."""

    fraction: float
    frames_done: int
    frames_total: int
    message: str
    eta_seconds: float | None = None


ProgressCallback = Callable[[Progress], None]
# Called often during a job; raises Cancelled (or the worker's Interrupted) when the job must stop.
StopCheck = Callable[[], None]
EngineProvider = Callable[[str], Engine]
# (style name, weight) -> the LoRA to apply; raises InputError for an unknown style.
StyleResolver = Callable[[str, float], StyleRef]


@dataclass(kw_only=True)
class PaintServices:
    """The stores of one data directory that painting reads and writes."""

    data_dir: Path
    blobs: BlobStore
    takes: TakeStore
    default_model: Callable[[], str | None] = lambda: None
    resolve_style: StyleResolver | None = None
    # Where paintings save the state they resume from after a restart (None: they save none).
    checkpoints: CheckpointStore | None = None
