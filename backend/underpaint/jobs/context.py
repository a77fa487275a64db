"""What a job kind is, and what a running job is given.

A job kind (`stylize`, `rerender`, `refine`, `train_style`, ...) is a
`JobKind`: a name, a pydantic model of its params, an optional `check` run at
submit time (bad input is refused with a 4xx before anything is queued), and
`run`, the work itself. `run` receives a `JobContext`: the shared services,
the worker's device and engine, and the two callbacks every long job needs —
`report` for progress and `check` to stop (it raises `Cancelled` when the
user cancelled, `Interrupted` (`paint.context`) when the server shuts down).

Kinds are found by `underpaint.jobs.kinds.discover()`: any module in that
package defining `KIND = JobKind(...)` is a job kind, so adding one never
touches the queue or the API.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from underpaint.database import Database
from underpaint.paint.context import EngineProvider, PaintServices, ProgressCallback, StopCheck
from underpaint.shot.cache import ShotPackages
from underpaint.shot.package import ShotPackage

from .store import JobStore


@dataclass(kw_only=True)
class Services(PaintServices):
    """Everything shared by the API and all workers of one data directory (`server.services` opens it)."""

    db: Database
    jobs: JobStore
    packages: ShotPackages


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
    # The take a job put back in the queue after a restart paints on into (from its checkpoint).
    resume: str | None = None

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
