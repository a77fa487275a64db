"""Housekeeping of one data directory: old failed takes and unreferenced uploads, removed.

`underpaint gc` runs it once; `underpaint serve --retention-days D` runs it at start and then
every `RETENTION_EVERY_HOURS`, beside the workers. What is kept is the housekeeping rule's
(`takes.housekeeping`): never a done take, nor the lineage of a kept take, nor what a queued or
running job will read. A job submitted while a collection runs cannot lose its shot to it: both
hold the queue's submit lock (`JobQueue.submitting`) while they read and change what is referenced.
"""

from __future__ import annotations

import logging
import threading
from contextlib import AbstractContextManager, nullcontext

from underpaint.jobs.context import Services
from underpaint.takes.housekeeping import Collected, collect, hashes_in

log = logging.getLogger("underpaint.server")

RETENTION_EVERY_HOURS = 6.0
MIB = 1 << 20


def collect_garbage(
    services: Services,
    older_than_days: float,
    grace_hours: float = 24.0,
    dry_run: bool = False,
    lock: AbstractContextManager[object] | None = None,
) -> Collected:
    """Remove failed or cancelled takes older than `older_than_days` and the blobs nothing refers to."""
    with lock or nullcontext():
        references: set[str] = set()
        for job in services.jobs.unfinished():
            references |= hashes_in(job.params) | ({job.shot} if job.shot else set())
        return collect(services.blobs, services.takes, references, older_than_days=older_than_days,
                       grace_hours=grace_hours, dry_run=dry_run, checkpoints=services.checkpoints)


class Retention:
    """The server's periodic collection, in a daemon thread; a failure is logged and tried next time."""

    def __init__(self, services: Services, days: float, lock: AbstractContextManager[object],
                 every_hours: float = RETENTION_EVERY_HOURS) -> None:
        self.services, self.days, self.lock, self.every = services, days, lock, every_hours * 3600.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="retention", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10.0)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                done = collect_garbage(self.services, self.days, lock=self.lock)
                if done.takes or done.blobs:
                    log.info("retention: removed %d failed takes and %d unused uploads (%.1f MiB) older than "
                             "%g days", len(done.takes), len(done.blobs), done.freed_bytes / MIB, self.days)
            except Exception:
                log.exception("retention: the collection failed; it runs again in %.0f h", self.every / 3600)
            self._stop.wait(self.every)
