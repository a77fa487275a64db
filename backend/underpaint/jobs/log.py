"""One log line per job event, for the console of `underpaint serve` and a studio's log collector.

The queue calls `log_event` where a job changes state (submitted, claimed, finished, cancelled
while queued), with the job as that change left it: queued, started, done (take and seconds),
failed (error code and message), cancelled. Progress is not logged: it streams on the job's events.
"""

from __future__ import annotations

import logging

from underpaint.database import parse_iso
from underpaint.jobs.store import Job

log = logging.getLogger("underpaint.jobs")


def log_event(job: Job) -> None:
    log.info("%s", describe(job))


def describe(job: Job) -> str:
    """The line for the job's current state."""
    what = f"job {job.id} ({job.kind}{f' of shot {job.shot[:12]}' if job.shot else ''})"
    if job.state == "queued":
        model = job.params.get("model")
        return f"{what} queued" + (f", model {model}" if model else "")
    if job.state == "running":
        return f"{what} started"
    took = f" in {seconds(job):.1f} s" if job.started and job.finished else ""
    if job.state == "done":
        return f"{what} done{took}" + (f": take {job.take}" if job.take else "")
    if job.state == "failed":
        return f"{what} failed{took} [{job.error_code or 'error'}]: {job.error_message or job.message}"
    return f"{what} {job.state}{took}: {job.message}"


def seconds(job: Job) -> float:
    """From start to end, from the job's recorded times."""
    assert job.started and job.finished
    return (parse_iso(job.finished) - parse_iso(job.started)).total_seconds()
