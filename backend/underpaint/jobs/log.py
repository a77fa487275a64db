"""One log line per job event, for the console of `underpaint serve` and a studio's log collector.

A queue listener (`JobQueue.subscribe`) hears every change of a job, progress included; this
writes a line only when the job's state changes: queued, started, done (take and seconds), failed
(error code and message), cancelled. Progress itself is not logged: it streams on the job's events.
"""

from __future__ import annotations

import logging
import threading

from underpaint.database import parse_iso
from underpaint.jobs.store import Job, JobStore

log = logging.getLogger("underpaint.jobs")


class JobLog:
    def __init__(self, jobs: JobStore) -> None:
        self._jobs = jobs
        self._seen: dict[str, str] = {}  # job id -> the state last logged
        self._lock = threading.Lock()  # listeners run on the worker threads and the request threads

    def __call__(self, job_id: str) -> None:
        job = self._jobs.get(job_id)
        with self._lock:
            if self._seen.get(job_id) == job.state:
                return
            self._seen[job_id] = job.state
            if job.terminal:
                del self._seen[job_id]  # a job ends once: nothing more to compare with
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
