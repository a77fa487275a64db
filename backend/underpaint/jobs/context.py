"""What a job kind is, and what a running job is given.

A job kind (`stylize`, `rerender`, `refine`, `train_style`, ...) is a
`JobKind`: a name, a pydantic model of its params, an optional `check` run at
submit time (bad input is refused with a 4xx before anything is queued), and
`run`, the work itself. `run` receives a `JobContext`: the shared services,
the worker's device and engine, and the two callbacks every long job needs —
`report` for progress and `check` to stop (it raises `Cancelled` when the
user cancelled, `Interrupted` when the server shuts down).

Kinds are found by `underpaint.jobs.kinds.discover()`: any module in that
package defining `KIND = JobKind(...)` is a job kind, so adding one never
touches the queue or the API.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from underpaint.blobs import BlobStore
from underpaint.database import Database
from underpaint.engines.base import Engine, StyleRef
from underpaint.shot.package import ShotPackage, assemble_package, validate_package
from underpaint.takes.store import DB_FILE, TAKES_DIR, TakeStore

from .store import JobStore


class Interrupted(Exception):
    """The server is shutting down: the job stops and is recorded as failed ('interrupted'), not cancelled."""


@dataclass(frozen=True)
class Progress:
    """A progress report: overall fraction 0..1, frames safely on disk, and a line for the artist."""

    fraction: float
    frames_done: int
    frames_total: int
    message: str


ProgressCallback = Callable[[Progress], None]
# Called often during a job; raises Cancelled (or Interrupted) when the job must stop.
StopCheck = Callable[[], None]
EngineProvider = Callable[[str], Engine]
# (style name, weight) -> the LoRA to apply; raises InputError for an unknown style.
StyleResolver = Callable[[str, float], StyleRef]


def find_style_resolver(data_dir: Path) -> StyleResolver | None:
    """The style registry's `resolve_style(name, weight, data_dir)`, bound to this data directory."""
    try:
        registry = importlib.import_module("underpaint.styles.registry")
    except ModuleNotFoundError as exc:
        if exc.name != "underpaint.styles.registry":
            raise
        return None
    return lambda name, weight: registry.resolve_style(name, weight, data_dir)


class ShotPackages:
    """Shot packages assembled from uploaded blobs; each is fully decoded once, then trusted by its hash."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._validated: set[str] = set()
        self._lock = threading.Lock()

    def get(self, shot_sha256: str) -> ShotPackage:
        package = assemble_package(shot_sha256, self.blobs)
        with self._lock:
            known = shot_sha256 in self._validated
        if not known:
            validate_package(package)
            with self._lock:
                self._validated.add(shot_sha256)
        return package


@dataclass
class Services:
    """Everything shared by the API and all workers of one data directory."""

    data_dir: Path
    db: Database
    blobs: BlobStore
    takes: TakeStore
    jobs: JobStore
    packages: ShotPackages
    default_model: Callable[[], str | None] = lambda: None
    resolve_style: StyleResolver | None = None


@dataclass
class JobContext:
    job_id: str
    shot: str | None
    services: Services
    device: str | None
    engines: EngineProvider
    report: ProgressCallback
    check: StopCheck
    set_take: Callable[[str], None]

    def package(self) -> ShotPackage:
        if self.shot is None:
            raise ValueError("this job has no shot")
        return self.services.packages.get(self.shot)


@dataclass(frozen=True)
class JobKind:
    """One kind of job: how to validate it at submit time and how to run it on a worker."""

    name: str
    params: type[BaseModel]
    run: Callable[[JobContext, Any], None]
    check: Callable[[Any, ShotPackage | None, Services], None] | None = None
    needs_shot: bool = True


def open_services(data_dir: Path, max_upload_bytes: int = 1 << 30) -> Services:
    """The stores of one data directory: database, blobs, takes, jobs."""
    db = Database(data_dir / DB_FILE)
    blobs = BlobStore(data_dir / "blobs", max_upload_bytes)
    return Services(
        data_dir=data_dir,
        db=db,
        blobs=blobs,
        takes=TakeStore(db, data_dir / TAKES_DIR),
        jobs=JobStore(db),
        packages=ShotPackages(blobs),
        resolve_style=find_style_resolver(data_dir),
    )
