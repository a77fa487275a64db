"""The persisted job queue: one row per job in SQLite, in submission order.

Rows are the truth the API reports: a job is `queued`, then `running` (one
worker claimed it), then `done`, `failed` or `cancelled`. Claiming is one
write transaction, so two workers never take the same job, and jobs start in
the order they were submitted (`seq`). After a crash, `recover` turns every
job left `running` into `failed` with the reason — never silently dropped.
"""

from __future__ import annotations

import builtins
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from underpaint.database import Database, now_iso, parse_iso
from underpaint.errors import NotFound

JOB_ID = re.compile(r"^[0-9a-f]{32}$")
TERMINAL = ("done", "failed", "cancelled")
# The most a running job reports: 100 % means done, and only a done job reads so.
RUNNING_AT_MOST = 0.99

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE NOT NULL,
    kind TEXT NOT NULL,
    shot TEXT,
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    progress REAL NOT NULL DEFAULT 0,
    frames_done INTEGER NOT NULL DEFAULT 0,
    frames_total INTEGER NOT NULL DEFAULT 0,
    take TEXT,
    error_code TEXT,
    error_message TEXT,
    message TEXT NOT NULL DEFAULT '',
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL,
    started TEXT,
    finished TEXT,
    eta_seconds REAL
);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
"""


@dataclass(frozen=True)
class Job:
    id: str
    kind: str
    shot: str | None
    params: dict[str, Any]
    state: str
    progress: float
    frames_done: int
    frames_total: int
    take: str | None
    error_code: str | None
    error_message: str | None
    message: str
    cancel_requested: bool
    created: str
    started: str | None
    finished: str | None
    eta_seconds: float | None = None  # a running job's estimate of the time left; None: not known yet

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def to_json(self) -> dict[str, Any]:
        """The job as `GET /v1/jobs/{id}` and every progress event report it."""
        error = None
        if self.error_code is not None:
            error = {"code": self.error_code, "message": self.error_message or ""}
        return {
            "id": self.id, "kind": self.kind, "state": self.state, "progress": self.progress,
            "frames_done": self.frames_done, "frames_total": self.frames_total, "take": self.take,
            "error": error, "message": self.message, "created": self.created, "started": self.started,
            "finished": self.finished, "elapsed_s": self.elapsed_seconds(),
            "eta_s": self.eta_seconds if self.state == "running" else None,
        }

    def elapsed_seconds(self) -> float | None:
        """Seconds since the job started (until it finished); None while queued."""
        if self.started is None:
            return None
        end = parse_iso(self.finished) if self.finished else datetime.now(UTC)
        return round(max((end - parse_iso(self.started)).total_seconds(), 0.0), 1)


def check_job_id(job_id: str) -> str:
    if not isinstance(job_id, str) or not JOB_ID.match(job_id):
        raise NotFound("unknown_job", f"no job {str(job_id)[:80]!r}")
    return job_id


class JobStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        db.ensure_schema(SCHEMA)
        db.ensure_column("jobs", "eta_seconds", "REAL")

    def submit(self, kind: str, shot: str | None, params: dict[str, Any]) -> Job:
        job_id = uuid.uuid4().hex
        self.db.execute(
            "INSERT INTO jobs (id, kind, shot, params, state, message, created) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
            (job_id, kind, shot, json.dumps(params), "waiting for a worker", now_iso()),
        )
        return self.get(job_id)

    def get(self, job_id: str) -> Job:
        rows = self.db.query("SELECT * FROM jobs WHERE id = ?", (check_job_id(job_id),))
        if not rows:
            raise NotFound("unknown_job", f"no job {job_id!r}")
        return _job(rows[0])

    def claim_next(self, accept: Callable[[Job], bool] | None = None) -> Job | None:
        """Mark the oldest queued job running and return it (None when the queue is empty, or when
        `accept` turns that job down: it stays first in the queue)."""
        with self.db.transaction() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE state = 'queued' ORDER BY seq LIMIT 1").fetchone()
            if row is None or (accept is not None and not accept(_job(row))):
                return None
            conn.execute(
                "UPDATE jobs SET state = 'running', started = ?, message = 'starting' WHERE id = ?",
                (now_iso(), row["id"]),
            )
        return self.get(row["id"])

    def report(
        self, job_id: str, progress: float, frames_done: int, frames_total: int, message: str,
        eta_seconds: float | None = None,
    ) -> None:
        """A running job's progress. Below 100 % until it is done: a job can still fail after its last
        frame (recording the take, measuring it), and a failed job must not read as complete."""
        self.db.execute(
            "UPDATE jobs SET progress = ?, frames_done = ?, frames_total = ?, message = ?, eta_seconds = ?"
            " WHERE id = ? AND state = 'running'",
            (min(max(progress, 0.0), RUNNING_AT_MOST), frames_done, frames_total, message, eta_seconds, job_id),
        )

    def set_take(self, job_id: str, take_id: str) -> None:
        self.db.execute("UPDATE jobs SET take = ? WHERE id = ?", (take_id, job_id))

    def finish(self, job_id: str, state: str, message: str, error: tuple[str, str] | None = None) -> Job:
        if state not in TERMINAL:
            raise ValueError(f"a job finishes as one of {TERMINAL}, not {state!r}")
        code, text = error if error else (None, None)
        progress_sql = "1.0" if state == "done" else "progress"
        self.db.execute(
            f"UPDATE jobs SET state = ?, finished = ?, message = ?, error_code = ?, error_message = ?,"
            f" progress = {progress_sql} WHERE id = ?",
            (state, now_iso(), message, code, text, job_id),
        )
        return self.get(job_id)

    def request_cancel(self, job_id: str) -> Job:
        """Cancel a queued job at once; flag a running one (its worker stops within one step)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE jobs SET state = 'cancelled', finished = ?, message = 'cancelled before it started'"
                " WHERE id = ? AND state = 'queued'",
                (now_iso(), check_job_id(job_id)),
            )
            conn.execute(
                "UPDATE jobs SET cancel_requested = 1, message = 'cancelling' WHERE id = ? AND state = 'running'",
                (job_id,),
            )
        return self.get(job_id)

    def requeue(self, job_id: str, message: str) -> Job:
        """A running job back in the queue, in its place (its `seq`) and with its take: it resumes."""
        self.db.execute(
            "UPDATE jobs SET state = 'queued', message = ?, eta_seconds = NULL WHERE id = ? AND state = 'running'",
            (message, job_id),
        )
        return self.get(job_id)

    def running(self) -> builtins.list[Job]:
        return [_job(r) for r in self.db.query("SELECT * FROM jobs WHERE state = 'running' ORDER BY seq")]

    def recover(self, resumable: Collection[str] = ()) -> builtins.list[Job]:
        """After a crash: a job left running whose take is in `resumable` (it has a checkpoint) goes back
        in the queue to resume; every other one becomes failed with the reason."""
        recovered = []
        for job in self.running():
            if job.take in resumable:
                recovered.append(self.requeue(job.id, "resuming from its checkpoint after a server restart"))
            else:
                recovered.append(self.finish(
                    job.id, "failed", "interrupted by a server restart",
                    ("interrupted", "the server stopped while this job was running; finished frames were kept"),
                ))
        return recovered

    def list(self, limit: int = 100) -> list[Job]:
        return [_job(r) for r in self.db.query("SELECT * FROM jobs ORDER BY seq DESC LIMIT ?", (limit,))]

    def unfinished(self) -> builtins.list[Job]:
        """Jobs still queued or running, oldest first (housekeeping keeps what they will read)."""
        rows = self.db.query("SELECT * FROM jobs WHERE state IN ('queued', 'running') ORDER BY seq")
        return [_job(r) for r in rows]


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"], kind=row["kind"], shot=row["shot"], params=json.loads(row["params"]), state=row["state"],
        progress=row["progress"], frames_done=row["frames_done"], frames_total=row["frames_total"],
        take=row["take"], error_code=row["error_code"], error_message=row["error_message"],
        message=row["message"], cancel_requested=bool(row["cancel_requested"]), created=row["created"],
        started=row["started"], finished=row["finished"], eta_seconds=row["eta_seconds"],
    )
