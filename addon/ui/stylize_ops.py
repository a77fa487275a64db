"""Operators the artist clicks: Stylize Shot, Re-render Range, Refine Region, Cancel, Load Take,
Train Style, Start Local Server.

Each job operator decides everything on the main thread (frames, parameters,
where the take goes), exports the shot's passes (a render, so it must run
here), then hands the rest to `jobs`: upload, paint and download happen in a
worker thread while the UI keeps running. Invoked from the UI the operator
stays modal only to catch Esc and to report the outcome; in background mode
it runs the same job to completion before returning.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import bpy

from .. import client as api
from .. import jobs, preferences, results, server_process, server_status
from . import job_params
from .job_params import UserError

RUN_MODES = (
    ("AUTO", "Auto", "Wait for the result in background mode, follow it with timers when Blender has a UI"),
    ("WAIT", "Wait", "Run the job to completion before returning (printing progress)"),
    ("TIMERS", "Timers", "Return at once; the job's results arrive through the add-on's timer"),
)
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
# Seconds between modal timer events: one exported frame per event while exporting.
EXPORT_STEP_SECONDS = 0.01
# Seconds between the modal checks of a running job (for Esc and the final report; results come by timer).
FOLLOW_SECONDS = 0.25
# Server states in which starting a job cannot work; the panel shows the reason and the fix.
SERVER_UNUSABLE = ("not_running", "wrong_token", "version_mismatch", "error")


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


# -- the job operators ---------------------------------------------------------------------------------------

class _JobOperator:
    """Shared life of an operator that starts a job: build the request, run or follow it, report."""

    bl_options = {"REGISTER"}
    slot = "job"

    run_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Run", items=RUN_MODES, default="AUTO", options={"HIDDEN", "SKIP_SAVE"}
    )

    def build(self, context: bpy.types.Context, wait: bool) -> jobs.Job:
        raise NotImplementedError

    def _wait(self) -> bool:
        return waits(self.run_mode)

    def _refuse_if_busy(self, context: bpy.types.Context) -> bool:
        """Report and say True when this scene's slot already has a job exporting or running."""
        if not jobs.busy(context.scene.name, self.slot):
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
            job = self.build(context, wait)
        except (UserError, results.OutputFolderError, ValueError, api.ServerError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        jobs.start(job)
        if wait:
            return self._outcome(jobs.run_to_completion(job))
        self._job = job
        if modal and context.window is not None:
            manager = context.window_manager
            self._timer = manager.event_timer_add(FOLLOW_SECONDS, window=context.window)
            manager.modal_handler_add(self)
            self.report({"INFO"}, f"{job.request.label}: started (Esc cancels)")
            return {"RUNNING_MODAL"}
        self.report({"INFO"}, f"{job.request.label}: started; progress is shown in the Underpaint panel")
        return {"FINISHED"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        job = self._job
        if event.type == "ESC" and event.value == "PRESS" and not job.finished:
            job.cancel()
            return {"RUNNING_MODAL"}
        if event.type == "TIMER" and job.finished:
            context.window_manager.event_timer_remove(self._timer)
            return self._outcome(job)
        return {"PASS_THROUGH"}

    def _outcome(self, job: jobs.Job) -> set[str]:
        label = job.request.label
        if job.state == "done":
            self.report({"INFO"}, f"{label}: {job.message}")
            return {"FINISHED"}
        if job.state == "cancelled":
            self.report({"WARNING"}, f"{label}: cancelled")
            return {"CANCELLED"}
        self.report({"ERROR"}, f"{label} failed: {job.message}")
        return {"CANCELLED"}


@dataclass
class ShotPlan:
    """A shot job decided on the main thread: what to export where, then the job that follows."""

    scene: str
    folder: Path  # the shot's folder: package/ and one folder per take
    frames: tuple[int, int]  # frames to export
    options: Any  # passes.ExportOptions
    request: jobs.JobRequest
    client: api.Client

    @property
    def package(self) -> Path:
        return self.folder / "package"

    def export_steps(self) -> Iterator[tuple[int, int]]:
        """The export, one frame per step (yields (done, total)): the UI stays live between frames."""
        from .. import passes

        return passes.iter_export(bpy.data.scenes[self.scene], self.package, *self.frames, self.options)

    def export(self, context: bpy.types.Context) -> None:
        """The export in one go (background mode, scripts), with progress on the cursor."""
        from .. import passes

        manager = context.window_manager
        manager.progress_begin(0, self.frames[1] - self.frames[0] + 1)
        try:
            passes.export_shot(bpy.data.scenes[self.scene], self.package, *self.frames, self.options,
                               progress=lambda done, _total: manager.progress_update(done))
        except passes.ExportError as exc:
            raise UserError(f"Exporting the passes failed: {exc}") from None
        finally:
            manager.progress_end()

    def job(self) -> jobs.Job:
        return jobs.Job(replace(self.request, package=self.package), self.client, on_done=results.apply_finished)


class _ShotJobOperator(_JobOperator):
    """Stylize, re-render and refine: export the shot's passes, then a job that ends in a take.

    Invoked from the UI the export runs one frame per modal timer event (Esc stops it), then
    the job follows; otherwise the export runs in one go.
    """

    kind = "stylize"

    def job_params(self, context: bpy.types.Context) -> tuple[dict[str, Any], tuple[int, int]]:
        """This kind's parameters and the frames to export."""
        raise NotImplementedError

    def job_model(self, context: bpy.types.Context) -> str | None:
        """The model set the job paints with (None: the server's default)."""
        if self.kind in jobs.EDIT_KINDS:
            return job_params.active_take(context.scene).model or None
        return context.scene.underpaint.model.strip() or None

    def plan(self, context: bpy.types.Context, wait: bool) -> ShotPlan:
        from .. import passes

        scene = context.scene
        if scene.camera is None:
            raise UserError("The scene has no camera: add one and make it the scene camera (Ctrl Numpad 0).")
        folder = results.shot_folder(scene, context)
        client = server_status.preferences_client(context)
        model = self.job_model(context)
        check_server(client, wait, model)
        params, frames = self.job_params(context)
        shot = results.shot_name(scene)
        # No engine reads motion vectors yet, and they double the export time (Blender evaluates the
        # neighbouring frames too): Stylize measures only what painting uses.
        options = passes.ExportOptions(shot_name=shot, color=bool(params["use_color"]), motion=False)
        request = jobs.JobRequest(
            kind=self.kind, scene=scene.name, params=params, model=model,
            takes_folder=folder, label=f"{self.bl_label} '{shot}'",
        )
        return ShotPlan(scene.name, folder, frames, options, request, client)

    def build(self, context: bpy.types.Context, wait: bool) -> jobs.Job:
        plan = self.plan(context, wait)
        plan.export(context)
        return plan.job()

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self._wait() or context.window is None:
            return self._launch(context, modal=False)
        scene = context.scene
        if self._refuse_if_busy(context):
            return {"CANCELLED"}
        try:
            self._plan = self.plan(context, wait=False)
        except (UserError, results.OutputFolderError, ValueError, api.ServerError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._steps: Iterator[tuple[int, int]] | None = self._plan.export_steps()
        self._job = None
        jobs.EXPORTING[scene.name] = False
        jobs.write_status(scene.name, self.slot, state="exporting", kind=self.kind, progress=0.0,
                          message="Exporting passes")
        manager = context.window_manager
        self._timer = manager.event_timer_add(EXPORT_STEP_SECONDS, window=context.window)
        manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self._steps is None:
            return super().modal(context, event)
        scene_name = self._plan.scene
        if (event.type == "ESC" and event.value == "PRESS") or jobs.EXPORTING.get(scene_name):
            return self._end_export(context, "cancelled", "Export cancelled", {"WARNING"})
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        from .. import passes

        try:
            done, total = next(self._steps)
        except StopIteration:
            self._steps = None
            jobs.EXPORTING.pop(scene_name, None)
            self._job = jobs.start(self._plan.job())
            manager = context.window_manager
            manager.event_timer_remove(self._timer)
            self._timer = manager.event_timer_add(FOLLOW_SECONDS, window=context.window)
            return {"RUNNING_MODAL"}
        except passes.ExportError as exc:
            return self._end_export(context, "failed", f"Exporting the passes failed: {exc}", {"ERROR"})
        except Exception as exc:  # the modal must end cleanly whatever broke, or the scene stays "busy"
            traceback.print_exc()
            return self._end_export(context, "failed", f"Exporting the passes failed unexpectedly: {exc!r}",
                                    {"ERROR"})
        jobs.write_status(scene_name, self.slot, progress=done / total, message=f"Exporting passes {done}/{total}")
        return {"RUNNING_MODAL"}

    def _end_export(self, context: bpy.types.Context, state: str, message: str, level: set[str]) -> set[str]:
        assert self._steps is not None
        self._steps.close()  # the generator restores the scene's render settings
        self._steps = None
        jobs.EXPORTING.pop(self._plan.scene, None)
        context.window_manager.event_timer_remove(self._timer)
        jobs.write_status(self._plan.scene, self.slot, state=state, message=message)
        self.report(level, message)
        return {"CANCELLED"}


class UNDERPAINT_OT_stylize_shot(_ShotJobOperator, bpy.types.Operator):
    """Paint the shot: export its passes, send them to the server and load the painted take"""

    bl_idname = "underpaint.stylize_shot"
    bl_label = "Stylize Shot"
    kind = "stylize"

    def job_params(self, context: bpy.types.Context) -> tuple[dict[str, Any], tuple[int, int]]:
        return job_params.paint_params(context.scene.underpaint), job_params.shot_range(context.scene)


class UNDERPAINT_OT_rerender_range(_ShotJobOperator, bpy.types.Operator):
    """Re-paint the preview range (or the selected markers' frames) of the active take; the rest stays as it is"""

    bl_idname = "underpaint.rerender_range"
    bl_label = "Re-render Range"
    kind = "rerender"

    frame_start: bpy.props.IntProperty(name="Start", default=0, options={"SKIP_SAVE"})  # type: ignore[valid-type]
    frame_end: bpy.props.IntProperty(name="End", default=-1, options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def job_params(self, context: bpy.types.Context) -> tuple[dict[str, Any], tuple[int, int]]:
        scene = context.scene
        take = job_params.active_take(scene)
        chosen = (self.frame_start, self.frame_end) if self.frame_end >= self.frame_start else None
        frames = chosen or job_params.edit_range(scene)
        if frames is None:
            raise UserError("Set a preview range in the timeline (Ctrl P), or select markers, "
                            "to say which frames to re-render.")
        if frames[0] < take.frame_start or frames[1] > take.frame_end:
            raise UserError(f"Frames {frames[0]}-{frames[1]} lie outside the active take "
                            f"({take.frame_start}-{take.frame_end}).")
        params = job_params.edit_params(scene.underpaint, take) | {"frames": list(frames)}
        return params, (take.frame_start, take.frame_end)


class UNDERPAINT_OT_refine_region(_ShotJobOperator, bpy.types.Operator):
    """Re-paint only the selected objects in the active take (over the preview range when it is on)"""

    bl_idname = "underpaint.refine_region"
    bl_label = "Refine Region"
    kind = "refine"

    def job_params(self, context: bpy.types.Context) -> tuple[dict[str, Any], tuple[int, int]]:
        scene = context.scene
        take = job_params.active_take(scene)
        names = job_params.refine_objects(context)
        if not names:
            raise UserError("Select the objects to refine: their pixels in the take are painted again.")
        params = job_params.edit_params(scene.underpaint, take) | {
            "mask": {"objects": names, "dilate": scene.underpaint.mask_dilate},
        }
        frames = job_params.edit_range(scene) if scene.use_preview_range else None
        if frames is not None:
            params["frames"] = [max(frames[0], take.frame_start), min(frames[1], take.frame_end)]
        return params, (take.frame_start, take.frame_end)


class UNDERPAINT_OT_load_take(_JobOperator, bpy.types.Operator):
    """Show a take through the camera and in the sequencer (downloading its frames if they are not on disk)"""

    bl_idname = "underpaint.load_take"
    bl_label = "Load Take"

    index: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Take", description="Index in the takes list (-1 = the selected take)", default=-1,
        options={"SKIP_SAVE"},
    )

    def _launch(self, context: bpy.types.Context, modal: bool) -> set[str]:
        scene = context.scene
        settings = scene.underpaint
        index = settings.active_take if self.index < 0 else self.index
        if not 0 <= index < len(settings.takes):
            self.report({"ERROR"}, "No take selected: choose one in the takes list.")
            return {"CANCELLED"}
        self._index = index
        if results.take_frames_missing(settings.takes[index]):
            return super()._launch(context, modal)
        problems = results.show_take(scene, index)
        self.report({"WARNING"} if problems else {"INFO"},
                    "; ".join(problems) or f"Take {settings.takes[index].name} loaded")
        return {"FINISHED"}

    def build(self, context: bpy.types.Context, wait: bool) -> jobs.Job:
        scene = context.scene
        entry = scene.underpaint.takes[self._index]
        request = jobs.JobRequest(kind="fetch", scene=scene.name, take=entry.name,
                                  frames_folder=Path(entry.directory), label=f"Load take {entry.name}")
        index = self._index
        return jobs.Job(request, server_status.preferences_client(context),
                        on_done=lambda job: results.show_take(bpy.data.scenes[job.request.scene], index))


class UNDERPAINT_OT_train_style(_JobOperator, bpy.types.Operator):
    """Teach the model a look from a folder of images (a LoRA style), to paint with by name"""

    bl_idname = "underpaint.train_style"
    bl_label = "Train Style"
    slot = "style_job"

    directory: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Images", description="Folder of concept art; NAME.txt beside an image is its caption",
        subtype="DIR_PATH",
    )
    name: bpy.props.StringProperty(name="Style Name", description="Name to paint with later")  # type: ignore[valid-type]
    steps: bpy.props.IntProperty(name="Steps", default=500, min=1, max=100000)  # type: ignore[valid-type]
    rank: bpy.props.IntProperty(name="Rank", default=8, min=1, max=256)  # type: ignore[valid-type]
    resolution: bpy.props.IntProperty(name="Resolution", default=512, min=32, max=2048, step=8)  # type: ignore[valid-type]
    trigger: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Trigger Word", description="Caption for images without a .txt (empty = the style name)"
    )
    force: bpy.props.BoolProperty(name="Replace Existing", default=False)  # type: ignore[valid-type]

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[str]:
        return context.window_manager.invoke_props_dialog(self, width=420)

    def draw(self, _context: bpy.types.Context) -> None:
        layout = self.layout
        for name in ("directory", "name", "steps", "rank", "resolution", "trigger", "force"):
            layout.prop(self, name)

    def build(self, context: bpy.types.Context, wait: bool) -> jobs.Job:
        name = self.name.strip()
        if not name:
            raise UserError("Give the style a name.")
        folder = Path(bpy.path.abspath(self.directory)) if self.directory else None
        if folder is None or not folder.is_dir():
            raise UserError(f"Choose a folder of images to train on ({self.directory or 'none chosen'}).")
        files = {p.name: p for p in sorted(folder.iterdir())
                 if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + (".txt",)}
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in files.values()):
            raise UserError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        client = server_status.preferences_client(context)
        model = context.scene.underpaint.model.strip() or None
        check_server(client, wait, model)
        params = {"name": name, "steps": self.steps, "rank": self.rank, "resolution": self.resolution,
                  "trigger": self.trigger.strip() or name, "force": self.force}
        request = jobs.JobRequest(kind="train_style", scene=context.scene.name, slot="style_job", params=params,
                                  model=model, files=files, label=f"Train style {name}")
        return jobs.Job(request, client, on_done=_style_trained)


def _style_trained(job: jobs.Job) -> None:
    """`on_done` of style training: the new style joins the panel's list and becomes the chosen style."""
    server_status.STATUS.styles = [str(s.get("name")) for s in job.result.get("styles", [])]
    scene = bpy.data.scenes.get(job.request.scene)
    if scene is not None:
        scene.underpaint.style = str(job.request.params["name"])


class UNDERPAINT_OT_cancel_job(bpy.types.Operator):
    """Cancel the running Underpaint job of this scene (on the server too)"""

    bl_idname = "underpaint.cancel_job"
    bl_label = "Cancel Job"

    slot: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Job", items=(("job", "Shot", "Stylize, re-render, refine or take download"),
                           ("style_job", "Style Training", "Style training")),
        default="job", options={"SKIP_SAVE"},
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        job = jobs.active(context.scene.name, self.slot)
        if context.scene.name in jobs.EXPORTING and self.slot == "job":
            jobs.EXPORTING[context.scene.name] = True  # the exporting operator stops at its next frame
            self.report({"INFO"}, "Cancelling the export")
            return {"FINISHED"}
        if job is None:
            self.report({"WARNING"}, "No Underpaint job is running in this scene.")
            return {"CANCELLED"}
        job.cancel()
        self.report({"INFO"}, f"{job.request.label}: cancelling")
        return {"FINISHED"}


class UNDERPAINT_OT_start_server(bpy.types.Operator):
    """Start `underpaint serve` on this machine for the server address in the preferences; it stops with Blender"""

    bl_idname = "underpaint.start_server"
    bl_label = "Start Local Server"

    run_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Run", items=RUN_MODES, default="AUTO", options={"HIDDEN", "SKIP_SAVE"}
    )

    def execute(self, context: bpy.types.Context) -> set[str]:
        prefs = preferences.get(context)
        try:
            client = server_status.preferences_client(context)
            server_process.start(prefs.backend_command, client.base_url, client.token)
            if waits(self.run_mode):
                server_process.wait_until_ready(client)
        except (server_process.StartError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        server_status.STATUS.recheck()
        self.report({"INFO"}, f"Starting the Underpaint server at {client.base_url}")
        return {"FINISHED"}


classes = (
    UNDERPAINT_OT_stylize_shot,
    UNDERPAINT_OT_rerender_range,
    UNDERPAINT_OT_refine_region,
    UNDERPAINT_OT_load_take,
    UNDERPAINT_OT_train_style,
    UNDERPAINT_OT_cancel_job,
    UNDERPAINT_OT_start_server,
)
