"""The job queue service: submit, cancel, and one worker thread per worker (a device, or a Ray actor).

Workers take jobs in submission order (`JobStore.claim_next`), run the job
kind's `run` with a `JobContext`, and record how it ended. The job at the head
of the queue goes preferably to an idle worker that holds its model set
loaded: a worker holding another set lets it pass to that one. Every change of a
job is announced to listeners (the API's event streams) right after it was
committed to the database, so what a client hears is always on record.

A worker never dies silently. It is supervised: whatever escapes it (a
database that cannot be written when the disk is full, ...) is logged, shown
in `/v1/health` as the worker failing with the first cause, and the worker
starts again after a pause; a job whose end could not be recorded is
recorded, with that first cause, as soon as the database takes writes again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from underpaint.blobs import check_sha256
from underpaint.engines.base import Cancelled, EngineError, WorkerLost
from underpaint.engines.pool import EngineSlot, Workers
from underpaint.errors import InputError, disk_full, is_disk_full
from underpaint.jobs.log import log_event
from underpaint.paint.context import Interrupted, Progress
from underpaint.shot.package import describe_errors

from .context import JobContext, JobKind, Services
from .store import Job

log = logging.getLogger("underpaint.jobs")

Listener = Callable[[str], None]
# Seconds a failing worker waits before it starts again.
RESTART_SECONDS = 1.0
# A busy worker that reported nothing for this long is shown as stuck.
STUCK_SECONDS = 30 * 60


@dataclass
class WorkerState:
    """What `/v1/health` says of one worker."""

    device: str
    state: str = "starting"  # starting | idle | busy | failing | stopped
    job: str | None = None
    error: str = ""
    since: float = field(default_factory=time.monotonic)
    heard: float = field(default_factory=time.monotonic)

    def become(self, state: str, job: str | None = None, error: str = "") -> None:
        self.state, self.job, self.error = state, job, error
        self.since = self.heard = time.monotonic()

    def to_json(self) -> dict[str, Any]:
        now = time.monotonic()
        stuck = self.state == "busy" and now - self.heard > STUCK_SECONDS
        return {"device": self.device, "state": "stuck" if stuck else self.state, "job": self.job,
                "error": self.error, "seconds_in_state": round(now - self.since, 1),
                "seconds_since_report": round(now - self.heard, 1)}


@dataclass(frozen=True)
class Ending:
    """How a job ended, to record: the job's state, message and error (code, message)."""

    job: str
    state: str
    message: str
    error: tuple[str, str] | None = None


class WorkerFault(Exception):
    """The worker could not record a job's end; it is kept and recorded once the database takes writes."""


class JobQueue:
    def __init__(
        self,
        services: Services,
        kinds: dict[str, JobKind],
        workers: Workers,
        ready: threading.Event | None = None,
    ) -> None:
        """`ready`: workers take no job before it is set (None: at once)."""
        self.services = services
        self.kinds = kinds
        self.devices = list(workers.names)
        self._workers = workers
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
        self.workers = {device: WorkerState(device) for device in self.devices}
        self._slots: dict[str, EngineSlot] = {}
        # Held while a job is checked and recorded, and while housekeeping reads what jobs refer to.
        self.submitting = threading.Lock()
        self._unrecorded: dict[str, Ending] = {}  # by device

    # -- service API -------------------------------------------------------------------------------

    def start(self) -> None:
        """Recover from an earlier crash, then start one worker per device."""
        resumable = self._resumable()
        for take in self.services.takes.recover(resuming=resumable):
            log.warning("take %s was left running by a previous server; marked failed", take.id)
        for job in self.services.jobs.recover(resumable):
            if job.state == "queued":
                log.warning("job %s was running when the server stopped; it resumes from its checkpoint", job.id)
            else:
                log.warning("job %s was running when the server stopped; marked failed", job.id)
        for device in self.devices:
            thread = threading.Thread(target=self._supervise, args=(device,), name=f"worker-{device}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the workers; a running job stops at its next step and is recorded as interrupted."""
        self._stopping.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)

    def _resumable(self) -> set[str]:
        """Takes left running by a job left running (or put back in the queue by a shutdown), with a
        checkpoint to resume from."""
        checkpoints = self.services.checkpoints
        if checkpoints is None:
            return set()
        running = {job.take for job in self.services.jobs.unfinished() if job.take}
        return running & set(self.services.takes.running()) & set(checkpoints.takes())

    def cluster(self) -> dict[str, Any] | None:
        """The workers' cluster as `/v1/health` shows it (None: they paint on this machine)."""
        return self._workers.describe()

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
        with self.submitting:
            package = None
            if kind.needs_shot:
                if not shot:
                    raise InputError("invalid_request", f"a {kind_name} job needs 'shot' (the sha256 of shot.json)")
                package = self.services.packages.get(check_sha256(shot))
            if kind.check is not None:
                kind.check(parsed, package, self.services)
            job = self.services.jobs.submit(kind_name, shot, parsed.model_dump(mode="json"))
        log_event(job)
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
        if job.state == "cancelled":  # it was still queued: it ends here (a running one ends in its worker)
            log_event(job)
            self._end_resumed_take(job)
        event = self._cancel.get(job_id)
        if event is not None:
            event.set()
        self._announce(job_id)
        return job

    def get(self, job_id: str) -> Job:
        return self.services.jobs.get(job_id)

    def _end_resumed_take(self, job: Job) -> None:
        """A job cancelled while queued to resume: its take ends cancelled with its frames, its checkpoint goes."""
        if not job.take or self.services.takes.get(job.take).state != "running":
            return
        self.services.takes.finish(job.take, "cancelled")
        if self.services.checkpoints is not None:
            self.services.checkpoints.of(job.take).remove()

    # -- workers -----------------------------------------------------------------------------------

    def _announce(self, job_id: str) -> None:
        for listener in self._listeners:
            try:
                listener(job_id)
            except Exception:  # a broken listener must not break the worker
                log.exception("job listener failed")

    def healthy(self) -> bool:
        """Every worker alive, none failing or stuck."""
        alive = all(t.is_alive() for t in self._threads) or self._stopping.is_set()
        return alive and all(w.to_json()["state"] in ("starting", "idle", "busy") for w in self.workers.values())

    def _supervise(self, device: str) -> None:
        """Run the worker; whatever escapes it is shown in health and the worker starts again."""
        state = self.workers[device]
        while not self._stopping.is_set():
            try:
                self._work(device)
                break
            except Exception as exc:
                log.exception("worker %s failed; starting it again in %.0f s", device, RESTART_SECONDS)
                state.become("failing", state.job, f"{type(exc).__name__}: {exc}")
                self._stopping.wait(RESTART_SECONDS)
        state.become("stopped")

    def _record_unrecorded(self, device: str) -> None:
        """The end of a job the worker could not record before (raises again while it still cannot)."""
        ending = self._unrecorded.get(device)
        if ending is None:
            return
        self._seal_take(ending)
        log_event(self.services.jobs.finish(ending.job, ending.state, ending.message, ending.error))
        del self._unrecorded[device]
        self._announce(ending.job)

    def _work(self, device: str) -> None:
        while not self._ready.wait(0.1):
            if self._stopping.is_set():
                return
        state = self.workers[device]
        self._record_unrecorded(device)
        engines = self._slots[device] = self._workers.slot(device)
        state.become("idle")
        while not self._stopping.is_set():
            with self._cond:
                seen = self._generation
            job = self.services.jobs.claim_next(accept=lambda queued: self._takes(device, queued))
            if job is None:
                with self._cond:
                    while self._generation == seen and not self._stopping.is_set():
                        self._cond.wait(timeout=5.0)
                continue
            log_event(job)
            self._announce(job.id)
            state.become("busy", job.id)
            self._run(job, device, engines)
            state.become("idle")
        engines.release()

    def _takes(self, device: str, job: Job) -> bool:
        """Whether worker `device` takes `job`: not when another idle worker holds the job's model set loaded
        and this one does not (it is woken to take it)."""
        wanted = job.params.get("model") or self.services.default_model()
        mine = self._slots.get(device)
        if wanted is None or (mine is not None and mine.loaded == wanted):
            return True
        for name, slot in self._slots.items():
            if name != device and slot.loaded == wanted and self.workers[name].state == "idle":
                with self._cond:
                    self._generation += 1
                    self._cond.notify_all()
                return False
        return True

    def _run(self, job: Job, device: str, engines: EngineSlot) -> None:
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
            jobs.report(job.id, progress.fraction, progress.frames_done, progress.frames_total, progress.message,
                        progress.eta_seconds)
            self.workers[device].heard = time.monotonic()
            self._announce(job.id)

        def set_take(take_id: str) -> None:
            jobs.set_take(job.id, take_id)
            self._announce(job.id)

        ctx = JobContext(job.id, job.shot, self.services, self._workers.device(device), engines.get, report, check,
                         set_take, job.take)
        try:
            ending = self._attempt(job, ctx)
            try:
                if ending.state == "queued":  # interrupted with a checkpoint: it resumes when a worker is back
                    log_event(jobs.requeue(ending.job, ending.message))
                    return
                self._seal_take(ending)
                log_event(jobs.finish(ending.job, ending.state, ending.message, ending.error))
            except Exception as exc:
                self._unrecorded[device] = self._first_cause(job.id, exc) if ending.state == "done" else ending
                raise WorkerFault(f"could not record the end of job {job.id} ({exc})") from exc
        finally:
            self._cancel.pop(job.id, None)
            self._announce(job.id)

    def _seal_take(self, ending: Ending) -> None:
        """A failed job's take is failed too, even when the painting could not record that itself."""
        take_id = self.services.jobs.get(ending.job).take
        if ending.state == "failed" and take_id and self.services.takes.get(take_id).state == "running":
            self.services.takes.finish(take_id, "failed", error=ending.error[1] if ending.error else ending.message)

    def _attempt(self, job: Job, ctx: JobContext) -> Ending:
        """Run the job; how it ended (never raises but for the worker's own faults)."""
        try:
            kind = self.kinds.get(job.kind)
            if kind is None:
                raise InputError("unknown_kind", f"this server no longer knows job kind {job.kind!r}")
            kind.run(ctx, kind.params.model_validate(job.params))
            return Ending(job.id, "done", "done")
        except Cancelled:
            done = self.services.jobs.get(job.id).frames_done
            return Ending(job.id, "cancelled", f"cancelled; {done} finished frames kept")
        except Interrupted as exc:
            take = self.services.jobs.get(job.id).take
            checkpoints = self.services.checkpoints
            if take and checkpoints is not None and checkpoints.of(take).exists():
                return Ending(job.id, "queued", "interrupted; resumes from its checkpoint when the server starts")
            return Ending(job.id, "failed", "interrupted", ("interrupted", f"{exc}; finished frames were kept"))
        except InputError as exc:
            return Ending(job.id, "failed", exc.message, (exc.code, exc.message))
        except EngineError as exc:
            return Ending(job.id, "failed", str(exc), ("engine_error", str(exc)))
        except WorkerLost as exc:
            # Failed, not queued again: what took the worker down (a GPU out of memory, a driver fault) would
            # likely take the next one down too; the frames received are kept and a re-render paints the rest.
            done = self.services.jobs.get(job.id).frames_done
            message = f"{exc}; {done} finished frames were kept (re-render the rest)"
            return Ending(job.id, "failed", message, ("worker_lost", message))
        except Exception as exc:
            log.exception("job %s failed", job.id)
            return self._first_cause(job.id, exc)

    def _first_cause(self, job_id: str, exc: BaseException) -> Ending:
        """The ending of a job that failed with `exc`, named by the first cause in its chain (a full disk
        behind the errors its own clean-up then ran into)."""
        chain = [exc]
        while chain[-1].__context__ is not None and len(chain) < 20:
            chain.append(chain[-1].__context__)
        if any(is_disk_full(e) for e in chain):
            full = disk_full(self.services.data_dir)
            return Ending(job_id, "failed", full.message, (full.code, full.message))
        first = chain[-1]
        return Ending(job_id, "failed", "internal error", ("internal_error", f"{type(first).__name__}: {first}"))
