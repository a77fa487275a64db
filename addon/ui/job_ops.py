"""What every job operator shares: run modes, the server check before starting, following the job, Cancel.

A job operator decides everything on the main thread, then hands the rest to the job
module: upload, paint and download happen in a worker thread while the UI keeps running.
Invoked from the UI the operator stays modal only to catch Esc and to report the outcome;
in background mode it runs the same job to completion before returning.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import bpy

from .. import client as api
from .. import job_timer, scene_takes, server_status
from ..jobs import Job
from .job_params import UserError

RUN_MODES = (
    ("AUTO", "Auto", "Wait for the result in background mode, follow it with timers when Blender has a UI"),
    ("WAIT", "Wait", "Run the job to completion before returning (printing progress)"),
    ("TIMERS", "Timers", "Return at once; the job's results arrive through the add-on's timer"),
)
# Seconds between the modal checks of a running job (for Esc and the final report; results come by timer).
FOLLOW_SECONDS = 0.25
# Server states in which starting a job cannot work; the panel shows the reason and the fix.
SERVER_UNUSABLE = ("not_running", "wrong_token", "version_mismatch", "error")
# What an operator may refuse to start over, with the message as the report.
REFUSALS = (UserError, scene_takes.OutputFolderError, ValueError, api.ServerError)

OnDone = Callable[[Job], None]


def waits(run_mode: str) -> bool:
    """Whether an operator with this `run_mode` finishes its work before returning."""
    return run_mode == "WAIT" or (run_mode == "AUTO" and bpy.app.background)


def check_server(client: api.Client, wait: bool, model: str | None) -> None:
    """Refuse to start (before a long export) when the server or the model set is known to be unusable.

    In background mode the check is made now (there is no UI to freeze); with a UI the
    panel's last health check, a few seconds old at most, decides. The worker checks again.
    """
    status = server_status.STATUS
    if wait:
        status.check_now(client)
    if status.client != client:
        return  # the address changed since the last check: nothing known yet
    if status.state in SERVER_UNUSABLE:
        raise UserError(status.message)
    if status.state == "connected":
        client.check_model({"models": status.models, "default_model": status.default_model}, model)


class JobOperator:
    """Shared life of an operator that starts a job: build it, run or follow it, report."""

    bl_options = {"REGISTER"}
    slot = "job"

    run_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Run", items=RUN_MODES, default="AUTO", options={"HIDDEN", "SKIP_SAVE"}
    )

    _job: Job | None = None
    _timer: Any = None

    def build(self, context: bpy.types.Context, wait: bool) -> tuple[Job, OnDone | None]:
        """The job to start, and what to do with its result in the scene."""
        raise NotImplementedError

    def _wait(self) -> bool:
        return waits(self.run_mode)

    def _refuse_if_busy(self, context: bpy.types.Context) -> bool:
        """Report and say True when this scene's slot already has a job exporting or running."""
        if not job_timer.busy(context.scene.name, self.slot):
            return False
        self.report({"ERROR"}, "A job is already running for this scene: wait for it, or cancel it (Esc).")
        return True

    def execute(self, context: bpy.types.Context) -> set[str]:
        return self._launch(context, modal=False)

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[str]:
        return self._launch(context, modal=True)

    def _launch(self, context: bpy.types.Context, modal: bool) -> set[str]:
        wait = self._wait()
        if self._refuse_if_busy(context):
            return {"CANCELLED"}
        try:
            job, on_done = self.build(context, wait)
        except REFUSALS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return self._run(context, job, on_done, wait, modal)

    def _run(self, context: bpy.types.Context, job: Job, on_done: OnDone | None, wait: bool,
             modal: bool) -> set[str]:
        job_timer.start(job, context.scene.name, self.slot, on_done)
        if wait:
            return self._outcome(job_timer.run_to_completion(job))
        self._job = job
        if modal and context.window is not None:
            manager = context.window_manager
            self._timer = manager.event_timer_add(FOLLOW_SECONDS, window=context.window)
            manager.modal_handler_add(self)
            self.report({"INFO"}, f"{job.label}: started (Esc cancels)")
            return {"RUNNING_MODAL"}
        self.report({"INFO"}, f"{job.label}: started; progress is shown in the Underpaint panel")
        return {"FINISHED"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        assert job is not None
        if event.type == "ESC" and event.value == "PRESS" and not job.finished:
            job.cancel()
            return {"RUNNING_MODAL"}
        if event.type == "TIMER" and job.finished:
            context.window_manager.event_timer_remove(self._timer)
            return self._outcome(job)
        return {"PASS_THROUGH"}

    def _outcome(self, job: Job) -> set[str]:
        if job.state == "done":
            self.report({"INFO"}, f"{job.label}: {job.message}")
            return {"FINISHED"}
        if job.state == "cancelled":
            self.report({"WARNING"}, f"{job.label}: cancelled")
            return {"CANCELLED"}
        self.report({"ERROR"}, f"{job.label} failed: {job.message}")
        return {"CANCELLED"}


class UNDERPAINT_OT_cancel_job(bpy.types.Operator):
    """Cancel the running Underpaint job of this scene (on the server too)"""

    bl_idname = "underpaint.cancel_job"
    bl_label = "Cancel Job"

    slot: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Job", items=(("job", "Shot", "Export, stylize, re-render, refine or take download"),
                           ("style_job", "Style Training", "Style training")),
        default="job", options={"SKIP_SAVE"},
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene.name
        if scene in job_timer.EXPORTING and self.slot == "job":
            job_timer.EXPORTING[scene] = True  # the modal export stops at its next event
            self.report({"INFO"}, "Cancelling the export")
            return {"FINISHED"}
        job = job_timer.active(scene, self.slot)
        if job is None:
            self.report({"WARNING"}, "No Underpaint job is running in this scene.")
            return {"CANCELLED"}
        job.cancel()
        self.report({"INFO"}, f"{job.label}: cancelling")
        return {"FINISHED"}


classes = (UNDERPAINT_OT_cancel_job,)
