"""Jobs: one Stylize, re-render, refine, style training or take download, from upload to result.

A job's life (`Job.state`):

    checking -> uploading -> queued -> running -> downloading -> done
         \\________________________________________________/-> failed | cancelled

Every network call runs in the job's worker thread, which never touches `bpy`:
it posts updates onto a queue. `tick()` is the one `bpy.app.timers` function:
on the main thread it drains those queues, writes state and progress into the
scene's settings and hands a finished take to the job's `on_done` (which
loads it into the scene). A tick only copies values, so it stays short.

In background mode (`blender -b`, the `bpy` module) timers never fire, so
`run_to_completion` calls the very same `tick()` in a loop until the job ends,
printing progress lines: a render farm stylizes through identical code.
The same tick also keeps the panel's server status fresh (`server_status`).
"""

from __future__ import annotations

import itertools
import queue
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bpy

from . import client as api
from .files import frame_path, fresh_folder, package_files, sha256_file
from .server_status import STATUS, drain, preferences_client

# "exporting" happens before a Job exists (the passes render on the main thread); the rest are Job states.
STATES_ACTIVE = ("exporting", "checking", "uploading", "queued", "running", "downloading")
STATES_FINAL = ("done", "failed", "cancelled")
SERVER_FINAL = ("done", "failed", "cancelled")
TICK_SECONDS = 0.1
# A dropped connection is retried this often, RECONNECT_PAUSE_SECONDS apart, before the job is failed.
RECONNECT_TRIES = 4
RECONNECT_PAUSE_SECONDS = 0.5
POLL_SECONDS = 0.25
# Longer than the server's keep-alive interval (15 s), so only a stalled stream times out.
EVENT_READ_TIMEOUT = 40.0
# Kinds whose job runs on a shot package and ends in a take.
SHOT_KINDS = ("stylize", "rerender", "refine")
# Kinds that edit a parent take: its size and model set are the parent's.
EDIT_KINDS = ("rerender", "refine")


@dataclass
class JobRequest:
    """What a job does; everything in it is decided on the main thread before the worker starts."""

    kind: str  # stylize | rerender | refine | train_style | fetch
    scene: str  # the scene whose settings show progress and receive the result
    slot: str = "job"  # the `UNDERPAINT_PG_job` of `scene.underpaint` that shows this job
    params: dict[str, Any] = field(default_factory=dict)
    model: str | None = None  # model set to check on the server (None = the server's default)
    package: Path | None = None  # shot package folder to upload (shot kinds)
    files: dict[str, Path] = field(default_factory=dict)  # train_style: name in the request -> file
    takes_folder: Path | None = None  # a new take's frames go to takes_folder/<take id>/####.png
    frames_folder: Path | None = None  # fetch: the folder of the known take to download again
    take: str | None = None  # fetch: the take to download
    label: str = ""  # what progress lines call the job ("Stylize shot_010")


@dataclass
class Update:
    """One change the worker reports; `None` fields are unchanged."""

    state: str | None = None
    progress: float | None = None
    message: str | None = None
    server_id: str | None = None
    error_code: str | None = None
    take: dict[str, Any] | None = None
    frames_folder: Path | None = None
    result: dict[str, Any] | None = None


_ids = itertools.count(1)


class Job:
    """A running or finished job. Fields are written only on the main thread, by `apply_updates`."""

    def __init__(self, request: JobRequest, client: api.Client,
                 on_done: Callable[[Job], None] | None = None) -> None:
        self.id = f"local-{next(_ids)}"
        self.request = request
        self.client = client
        self.on_done = on_done
        self.state = "checking"
        self.progress = 0.0
        self.message = "Connecting to the server"
        self.error_code = ""
        self.server_id: str | None = None
        self.take: dict[str, Any] | None = None
        self.frames_folder: Path | None = None
        self.result: dict[str, Any] = {}
        self.detached = False  # the .blend it belongs to was closed: finish without touching the scene
        self.done_error = ""  # on_done failed (e.g. the camera was deleted meanwhile)
        self._updates: queue.SimpleQueue[Update] = queue.SimpleQueue()
        self._cancel = threading.Event()
        self._worker_server_id: str | None = None  # worker's copy, read by cancel() on the main thread
        self._thread = threading.Thread(target=self._work, name=f"underpaint-{self.id}", daemon=True)

    # -- main thread ------------------------------------------------------------------------------

    @property
    def finished(self) -> bool:
        return self.state in STATES_FINAL

    def start(self) -> None:
        self._thread.start()

    def cancel(self) -> None:
        """Ask the job to stop; the server is told from a short-lived thread, never from here."""
        if self.finished or self._cancel.is_set():
            return
        self._cancel.set()
        self.message = "Cancelling"
        server_id = self._worker_server_id
        if server_id is not None:
            threading.Thread(target=self._cancel_on_server, args=(server_id,), daemon=True).start()

    def apply_updates(self) -> bool:
        """Take the worker's updates into this job and the scene; True when anything changed."""
        changed = False
        for update in drain(self._updates):
            changed = True
            for name in ("state", "progress", "message", "server_id", "error_code", "take", "frames_folder",
                         "result"):
                value = getattr(update, name)
                if value is not None:
                    setattr(self, name, value)
        if changed and not self.detached:
            if self.state == "done" and self.on_done is not None:
                try:
                    self.on_done(self)
                except Exception as exc:  # the result could not be shown: say so, keep the frames
                    self.state, self.error_code = "failed", "apply_failed"
                    self.message = self.done_error = f"The take arrived but could not be shown: {exc}"
                    traceback.print_exc()
            self._write_status()
        return changed

    def _write_status(self) -> None:
        write_status(self.request.scene, self.request.slot, state=self.state, progress=self.progress,
                     message=self.message, kind=self.request.kind, server_job=self.server_id or "",
                     error_code=self.error_code)

    def progress_line(self) -> str:
        label = self.request.label or self.request.kind
        return f"Underpaint: {label}: {self.state} {self.progress * 100:5.1f}% {self.message}"

    # -- worker thread ----------------------------------------------------------------------------

    def _post(self, **fields: Any) -> None:
        self._updates.put(Update(**fields))

    def _cancel_on_server(self, server_id: str) -> None:
        try:
            self.client.cancel_job(server_id)
        except api.ServerError:
            pass  # the worker's own follow loop reports an unreachable server

    def _work(self) -> None:
        try:
            self._run()
        except api.ServerError as exc:
            self._post(state="failed", message=str(exc), error_code=exc.code)
        except Exception as exc:  # never let a worker die silently: the job must end in a final state
            traceback.print_exc()
            self._post(state="failed", message=f"Unexpected error in the add-on: {exc!r}", error_code="internal")

    def _run(self) -> None:
        request, client = self.request, self.client
        info = client.health()
        params = dict(request.params)
        if request.kind in SHOT_KINDS or request.kind == "train_style":
            model = client.check_model(info, request.model)
            if request.kind not in EDIT_KINDS:  # an edit paints with its parent take's model set
                params["model"] = model
        if request.kind == "fetch":
            self._download(str(request.take))
            return
        shot = None
        if request.package is not None:
            shot, files = package_files(request.package)
        else:
            files = self._hash_named_files(params)
        self._post(state="uploading", progress=0.0, message="Uploading")
        sent = client.upload_missing(files, self._upload_progress, self._cancel.is_set)
        if self._cancel.is_set():
            self._post(state="cancelled", message="Cancelled before the job reached the server")
            return
        self._post(message=f"Uploaded {sent} of {len(files)} files")
        server_id = client.create_job(request.kind, params, shot)
        self._worker_server_id = server_id
        self._post(state="queued", server_id=server_id, progress=0.0, message="Queued on the server")
        if self._cancel.is_set():
            self._cancel_on_server(server_id)
        final = self._follow(server_id)
        if final["state"] == "failed":
            error = final.get("error") or {}
            raise api.explain(str(error.get("code", "job_failed")),
                              str(error.get("message") or final.get("message") or "The job failed on the server."),
                              model=params.get("model"))
        if final["state"] == "cancelled":
            self._post(state="cancelled", message="Cancelled on the server")
            return
        if request.kind == "train_style":
            self._post(state="done", progress=1.0, message=f"Style {params.get('name')!r} is ready",
                       result={"styles": client.styles()})
            return
        if not final.get("take"):
            raise api.ServerError("no_take", f"Job {server_id} finished without a take.")
        self._download(str(final["take"]))

    def _hash_named_files(self, params: dict[str, Any]) -> dict[str, Path]:
        """Hash the request's named files (style images) here, off the main thread; fill params["files"]."""
        by_digest: dict[str, Path] = {}
        names: dict[str, str] = {}
        for name, path in sorted(self.request.files.items()):
            digest = sha256_file(path)
            by_digest[digest] = path
            names[name] = digest
        params["files"] = names
        return by_digest

    def _upload_progress(self, done: int, total: int) -> None:
        self._post(progress=done / max(total, 1), message=f"Uploading {done}/{total}")

    def _follow(self, server_id: str) -> dict[str, Any]:
        """Follow a server job to its final state: events when the server streams them, polling otherwise.

        A dropped connection is retried a few times (a restarted server keeps its jobs); a server
        that stays away fails the job with the reason.
        """
        failures = 0
        use_events = True
        while True:
            try:
                if use_events:
                    for event in self.client.job_events(server_id, timeout=EVENT_READ_TIMEOUT):
                        failures = 0
                        self._post_server_state(event)
                        if event.get("state") in SERVER_FINAL:
                            return event
                else:
                    time.sleep(POLL_SECONDS)
                event = self.client.job(server_id)  # the stream ended early, or there is none: ask
                failures = 0
                self._post_server_state(event)
                if event.get("state") in SERVER_FINAL:
                    return event
            except api.ServerNotRunning as exc:
                failures += 1
                if failures >= RECONNECT_TRIES:
                    raise api.ServerNotRunning(
                        "connection_lost",
                        f"Lost the connection to the server while job {server_id} was running. {exc}",
                    ) from None
                time.sleep(RECONNECT_PAUSE_SECONDS)
            except api.ServerError as exc:
                if exc.code == "timeout":
                    continue  # a quiet stream: reconnect
                if use_events and exc.code in ("not_underpaint", "http_405"):
                    use_events = False  # this server has no event stream
                    continue
                raise

    def _post_server_state(self, event: dict[str, Any]) -> None:
        state = str(event.get("state", "running"))
        if state in SERVER_FINAL:
            return  # the final state is posted once the result is in (or the failure explained)
        done, total = event.get("frames_done"), event.get("frames_total")
        message = str(event.get("message") or "")
        if not message:
            message = f"Painting: {done}/{total} frames" if total else state.capitalize()
        self._post(state=state if state in STATES_ACTIVE else "running",
                   progress=float(event.get("progress") or 0.0), message=message)

    def _download(self, take_id: str) -> None:
        """Fetch a take's frames into `takes_folder/<take>/####.png`, then report it done."""
        take = self.client.take(take_id)
        folder = self.request.frames_folder
        if folder is None:
            if self.request.takes_folder is None:
                raise ValueError("a take download needs a takes folder")
            folder = fresh_folder(self.request.takes_folder, take_id)
        frames = [int(f) for f in take.get("frames", [])]
        self._post(state="downloading", progress=0.0, message=f"Downloading {len(frames)} frames")
        for done, frame in enumerate(frames, start=1):
            if self._cancel.is_set():
                self._post(state="cancelled", message="Cancelled while downloading")
                return
            self.client.download_frame(take_id, frame, frame_path(folder, frame))
            self._post(progress=done / len(frames), message=f"Downloading {done}/{len(frames)} frames")
        self._post(state="done", progress=1.0, take=take, frames_folder=folder,
                   message=f"Take {take_id}: {len(frames)} frames")


# -- the one timer --------------------------------------------------------------------------------

_JOBS: dict[str, Job] = {}
# Scenes whose passes are being exported by a modal operator -> whether the artist asked to cancel.
EXPORTING: dict[str, bool] = {}


def write_status(scene_name: str, slot: str, **fields: Any) -> None:
    """Show a job's state in `scene.underpaint.<slot>` (panel, status bar); a deleted scene is skipped."""
    scene = bpy.data.scenes.get(scene_name)
    if scene is None:
        return
    status = getattr(scene.underpaint, slot)
    for name, value in fields.items():
        setattr(status, name, value)


def start(job: Job) -> Job:
    """Run a job; its results reach the scene through `tick()`."""
    _JOBS[job.id] = job
    job.start()
    _ensure_timer()
    return job


def active(scene_name: str, slot: str = "job") -> Job | None:
    """The unfinished job shown in a scene's status slot, if any."""
    for job in _JOBS.values():
        if job.request.scene == scene_name and job.request.slot == slot and not job.finished:
            return job
    return None


def busy(scene_name: str, slot: str = "job") -> bool:
    """A job of this slot is exporting or running in the scene (so another must not start)."""
    return active(scene_name, slot) is not None or (slot == "job" and scene_name in EXPORTING)


def tick() -> float | None:
    """The `bpy.app.timers` function: apply every job's updates, watch the server's health."""
    changed = False
    for job in list(_JOBS.values()):
        changed |= job.apply_updates()
        if job.finished:
            del _JOBS[job.id]
    changed |= STATUS.apply()
    if not bpy.app.background:
        try:
            STATUS.request(preferences_client())
        except ValueError as exc:  # an address that is not one: say so instead of checking
            STATUS.client, STATUS.state, STATUS.message = None, "error", str(exc)
        STATUS.maybe_check()
    if changed:
        _redraw()
    return TICK_SECONDS if (_JOBS or not bpy.app.background) else None


def run_to_completion(job: Job, print_progress: bool = True, poll_seconds: float = 0.05) -> Job:
    """Background mode: drive `tick()` until the job ends (there is no event loop to fire the timer)."""
    last = ""
    while True:
        tick()
        line = job.progress_line()
        if print_progress and line != last:
            print(line, flush=True)
            last = line
        if job.finished:
            return job
        time.sleep(poll_seconds)


def _ensure_timer() -> None:
    if not bpy.app.timers.is_registered(tick):
        bpy.app.timers.register(tick, first_interval=TICK_SECONDS, persistent=True)


def _redraw() -> None:
    """Repaint the panels and the status bar that show progress (cheap: it only tags regions)."""
    manager = bpy.context.window_manager
    if manager is None:
        return
    for window in manager.windows:
        for area in window.screen.areas:
            if area.type in ("VIEW_3D", "STATUSBAR", "SEQUENCE_EDITOR", "PROPERTIES"):
                area.tag_redraw()


@bpy.app.handlers.persistent
def _forget_on_load(*_args: Any) -> None:
    """Opening another .blend: jobs keep running on the server, but their results must not land in it."""
    for job in _JOBS.values():
        job.detached = True
    EXPORTING.clear()


@bpy.app.handlers.persistent
def _interrupted_on_load(*_args: Any) -> None:
    """A file saved while a job ran still says "running": nothing follows that job in this session."""
    for scene in bpy.data.scenes:
        settings = getattr(scene, "underpaint", None)
        for status in (settings.job, settings.style_job) if settings is not None else ():
            if status.state in STATES_ACTIVE:
                status.state, status.message = "failed", "Interrupted: the file was closed while this job ran"


_HANDLERS = ((bpy.app.handlers.load_pre, _forget_on_load), (bpy.app.handlers.load_post, _interrupted_on_load))


def register() -> None:
    for handlers, function in _HANDLERS:
        if function not in handlers:
            handlers.append(function)
    if not bpy.app.background:
        _ensure_timer()


def unregister() -> None:
    _forget_on_load()
    for job in list(_JOBS.values()):
        job.cancel()
    _JOBS.clear()
    for handlers, function in _HANDLERS:
        if function in handlers:
            handlers.remove(function)
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
