"""The job queue service: submit, cancel, and one worker thread per device.

Workers take jobs in submission order (`JobStore.claim_next`), run the job
kind's `run` with a `JobContext`, and record how it ended. Every change of a
job is announced to listeners (the API's event streams) right after it was
committed to the database, so what a client hears is always on record.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel, ValidationError

from underpaint.blobs import check_sha256
from underpaint.engines.base import Cancelled, EngineError
from underpaint.engines.pool import EngineCache, EngineLoader
from underpaint.errors import InputError
from underpaint.paint.context import Progress
from underpaint.shot.package import describe_errors

from .context import Interrupted, JobContext, JobKind, Services
from .store import Job

log = logging.getLogger("underpaint.jobs")

Listener = Callable[[str], None]


class JobQueue:
    def __init__(
        self,
        services: Services,
        kinds: dict[str, JobKind],
        devices: list[str],
        loader: EngineLoader,
        ready: threading.Event | None = None,
    ) -> None:
        """`ready`: workers take no job before it is set (None: at once)."""
        self.services = services
        self.kinds = kinds
        self.devices = devices
        self._loader = loader
        if ready is None:
            ready = threading.Event()
            ready.set()
        self._ready = ready
        self._listeners: list[Listener] = []
        self._cond = threading.Condition()
        self._generation = 0
        self._stopping = threading.Event()
        self._cancel: dict[str, threading.Event] = {}
        self._threads: list[threading.Thread] = []

    # -- service API -------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover from an earlier crash, then start one worker per device."""
        for take in self.services.takes.recover():
            log.warning("take %s was left running by a previous server; marked failed", take.id)
        for job in self.services.jobs.recover():
            log.warning("job %s was running when the server stopped; marked failed", job.id)
        for device in self.devices:
            thread = threading.Thread(target=self._work, args=(device,), name=f"worker-{device}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a running job stops at its next step and is recorded as interrupted."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def subscribe(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def submit(self, kind_name: str, shot: str | None, params: dict[str, Any] | BaseModel) -> Job:
        """Validate a job completely (params, shot package, kind checks), then queue it.

        `params` may come parsed already (the API's typed body) or as JSON data.
        """
        kind = self.kinds.get(kind_name)
        if kind is None:
            raise InputError("unknown_kind", f"unknown job kind {kind_name!r}; this server runs {sorted(self.kinds)}")
        if isinstance(params, kind.params):
            parsed = params
        else:
            parsed = self._parse(kind, params)
        package = None
        if kind.needs_shot:
            if not shot:
                raise InputError("invalid_request", f"a {kind_name} job needs 'shot' (the sha256 of shot.json)")
            package = self.services.packages.get(check_sha256(shot))
        if kind.check is not None:
            kind.check(parsed, package, self.services)
        job = self.services.jobs.submit(kind_name, shot, parsed.model_dump(mode="json"))
        with self._cond:
            self._generation += 1
            self._cond.notify_all()
        self._announce(job.id)
        return job

    @staticmethod
    def _parse(kind: JobKind, params: dict[str, Any] | BaseModel) -> BaseModel:
        data = params.model_dump(mode="json") if isinstance(params, BaseModel) else params
        try:
            return kind.params.model_validate(data)
        except ValidationError as exc:
            errors = [{**e, "loc": ("params", *e["loc"])} for e in exc.errors()]
            raise InputError("invalid_params", f"invalid job params: {describe_errors(errors)}", 422) from exc

    def cancel(self, job_id: str) -> Job:
        job = self.services.jobs.request_cancel(job_id)
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()
        self._announce(job_id)
        return job

    def get(self, job_id: str) -> Job:
        return self.services.jobs.get(job_id)

    # -- workers -----------------------------------------------------------------------------------

    def _announce(self, job_id: str) -> None:
        for listener in self._listeners:
            try:
                listener(job_id)
            except Exception:  # a broken listener must not break the worker
                log.exception("job listener failed")

    def _work(self, device: str) -> None:
        while not self._ready.wait(0.1):
            if self._stopping.is_set():
                return
        engines = EngineCache(self.services.data_dir, device, self._loader)
        while not self._stopping.is_set():
            with self._cond:
                seen = self._generation
            job = self.services.jobs.claim_next()
            if job is None:
                with self._cond:
                    while self._generation == seen and not self._stopping.is_set():
                        self._cond.wait(timeout=5.0)
                continue
            self._announce(job.id)
            self._run(job, device, engines)
        engines.release()

    def _run(self, job: Job, device: str, engines: EngineCache) -> None:
        jobs = self.services.jobs
        cancel = self._cancel.setdefault(job.id, threading.Event())
        if jobs.get(job.id).cancel_requested:  # re-read: a cancel may have landed before the event existed
            cancel.set()

        def check() -> None:
            if self._stopping.is_set():
                raise Interrupted("the server is shutting down")
            if cancel.is_set():
                raise Cancelled()

        def report(progress: Progress) -> None:
            jobs.report(job.id, progress.fraction, progress.frames_done, progress.frames_total, progress.message)
            self._announce(job.id)

        def set_take(take_id: str) -> None:
            jobs.set_take(job.id, take_id)
            self._announce(job.id)

        ctx = JobContext(job.id, job.shot, self.services, device, engines.get, report, check, set_take)
        try:
            kind = self.kinds.get(job.kind)
            if kind is None:
                raise InputError("unknown_kind", f"this server no longer knows job kind {job.kind!r}")
            kind.run(ctx, kind.params.model_validate(job.params))
            jobs.finish(job.id, "done", "done")
        except Cancelled:
            jobs.finish(job.id, "cancelled", f"cancelled; {jobs.get(job.id).frames_done} finished frames kept")
        except Interrupted as exc:
            jobs.finish(job.id, "failed", "interrupted", ("interrupted", f"{exc}; finished frames were kept"))
        except InputError as exc:
            jobs.finish(job.id, "failed", exc.message, (exc.code, exc.message))
        except EngineError as exc:
            jobs.finish(job.id, "failed", str(exc), ("engine_error", str(exc)))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            jobs.finish(job.id, "failed", "internal error", ("internal_error", f"{type(exc).__name__}: {exc}"))
        finally:
            self._cancel.pop(job.id, None)
            self._announce(job.id)
