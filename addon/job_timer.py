"""The Blender side of jobs: each scene's running jobs and exports, and the one `bpy.app.timers` function.

`tick()` runs on the main thread: it takes every job's updates in (`Job.apply_updates`),
writes state and progress into the scene's settings (`scene.underpaint.job`, the panel and
the status bar show them), hands a finished take to the job's `on_done` (which loads it into
the scene), and takes in the server's health (which also refreshes each scene's controls).
A tick only copies values, so it stays short; `make bench` measures it (bench/blender/stylize_ui.py).

In background mode (`blender -b`, the `bpy` module) timers never fire, so
`run_to_completion` calls the very same `tick()` in a loop until the job ends,
printing progress lines: a render farm stylizes through identical code.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import bpy

from . import controls
from .jobs import worker
from .jobs.worker import Job
from .server_status import STATUS, preferences_client

# "exporting" happens before a Job exists (the passes render on the main thread); the rest are Job states.
STATES_ACTIVE = ("exporting", *worker.STATES_ACTIVE)
TICK_SECONDS = 0.1


@dataclass
class _SceneJob:
    """A job, the scene settings slot that shows it, and what to do with its result there."""

    job: Job
    scene: str  # the scene whose settings show progress and receive the result
    slot: str  # the `UNDERPAINT_PG_job` of `scene.underpaint` that shows this job
    on_done: Callable[[Job], None] | None
    detached: bool = False  # the .blend it belongs to was closed: finish without touching the scene
    started: bool = False

    def apply(self) -> bool:
        changed = self.job.apply_updates()
        if changed and not self.detached:
            if self.job.state == "done" and self.on_done is not None:
                try:
                    self.on_done(self.job)
                except Exception as exc:  # the result could not be shown: say so, keep the frames
                    self.job.fail("apply_failed", f"The take arrived but could not be shown: {exc}")
                    traceback.print_exc()
            job = self.job
            write_status(self.scene, self.slot, state=job.state, progress=job.progress, message=job.message,
                         kind=job.request.kind, server_job=job.server_id or "", error_code=job.error_code)
        return changed


_JOBS: dict[str, _SceneJob] = {}
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


def start(job: Job, scene: str, slot: str = "job", on_done: Callable[[Job], None] | None = None) -> Job:
    """Run a job for a scene; its progress and result reach the scene through `tick()`.

    Its thread starts at the next tick, not here: an operator calls this, and Blender runs the rest of
    the operator call with Python's lock released, so a thread started now would run its first burst of
    Python (and possibly the garbage collector, freeing Blender's Python wrappers) alongside Blender's
    own code. The timer's tick runs on the main thread outside any operator.
    """
    _JOBS[job.id] = _SceneJob(job, scene, slot, on_done)
    _ensure_timer()
    return job


def active(scene_name: str, slot: str = "job") -> Job | None:
    """The unfinished job shown in a scene's status slot, if any."""
    for entry in _JOBS.values():
        if entry.scene == scene_name and entry.slot == slot and not entry.job.finished:
            return entry.job
    return None


def busy(scene_name: str, slot: str = "job") -> bool:
    """A job of this slot is exporting or running in the scene (so another must not start)."""
    return active(scene_name, slot) is not None or (slot == "job" and scene_name in EXPORTING)


def tick() -> float | None:
    """The `bpy.app.timers` function: apply every job's updates, watch the server's health."""
    changed = False
    for key, entry in list(_JOBS.items()):
        if not entry.started:
            entry.job.start()
            entry.started = True
        changed |= entry.apply()
        if entry.job.finished:
            del _JOBS[key]
    health_changed = STATUS.apply()
    controls.sync_all(only_new=not health_changed)  # a new scene gets its controls at once, server or not
    changed |= health_changed
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
    for entry in _JOBS.values():
        entry.detached = True
    EXPORTING.clear()


@bpy.app.handlers.persistent
def _settle_on_load(*_args: Any) -> None:
    """A file saved while a job ran still says "running": nothing follows that job in this session.
    Its scenes' controls are brought up to date (an old file's are migrated once)."""
    for scene in bpy.data.scenes:
        settings = getattr(scene, "underpaint", None)
        for status in (settings.job, settings.style_job) if settings is not None else ():
            if status.state in STATES_ACTIVE:
                status.state, status.message = "failed", "Interrupted: the file was closed while this job ran"
    controls.sync_all()


_HANDLERS = ((bpy.app.handlers.load_pre, _forget_on_load), (bpy.app.handlers.load_post, _settle_on_load))


def register() -> None:
    for handlers, function in _HANDLERS:
        if function not in handlers:
            handlers.append(function)
    if not bpy.app.background:
        _ensure_timer()


def unregister() -> None:
    _forget_on_load()
    for entry in list(_JOBS.values()):
        entry.job.cancel()
    _JOBS.clear()
    for handlers, function in _HANDLERS:
        if function in handlers:
            handlers.remove(function)
    if bpy.app.timers.is_registered(tick):
        bpy.app.timers.unregister(tick)
