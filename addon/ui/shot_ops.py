"""Stylize Shot, Re-render Range and Refine Region: export the shot's passes, then a job that ends in a take.

Invoked from the UI the export runs through the shared modal exporter (one frame per
event, Esc stops it), then the job is followed; otherwise the export runs in one go.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import bpy

from .. import client as api
from .. import controls, job_timer, passes, scene_takes, server_status
from ..jobs import Job, Refine, Rerender, Shot, ShowControls, Stylize
from ..jobs.requests import ShotRequest
from ..model_sets import ModelSet
from ..passes import refine_masks
from . import job_params
from .job_ops import REFUSALS, JobOperator, OnDone, check_server
from .job_params import UserError
from .modal_export import ModalExport


@dataclass(frozen=True)
class ShotPlan:
    """A shot job decided on the main thread: what to export where, then the job that follows."""

    scene: str
    frames: tuple[int, int]  # frames to export
    options: passes.ExportOptions
    request: ShotRequest
    client: api.Client
    label: str
    finished: Callable[[str, Job], None] = scene_takes.apply_finished  # on the main thread, with the scene's name

    def export_steps(self) -> Generator[tuple[int, int], None, Path]:
        """The export, one frame per step (yields (done, total); returns the path of shot.json)."""
        return passes.iter_export(bpy.data.scenes[self.scene], self.request.shot.package, *self.frames,
                                  self.options)

    def export(self, context: bpy.types.Context) -> None:
        """The export in one go (background mode, scripts), with progress on the cursor."""
        manager = context.window_manager
        manager.progress_begin(0, self.frames[1] - self.frames[0] + 1)
        try:
            passes.export_shot(bpy.data.scenes[self.scene], self.request.shot.package, *self.frames, self.options,
                               progress=lambda done, _total: manager.progress_update(done))
        except passes.ExportError as exc:
            raise UserError(f"Exporting the passes failed: {exc}") from None
        finally:
            manager.progress_end()

    def job(self) -> tuple[Job, OnDone]:
        return Job(self.request, self.client, self.label), partial(self.finished, self.scene)


class ShotJobOperator(JobOperator):
    """What stylize, re-render and refine share: the plan, the export, then the job."""

    _export: ModalExport | None = None
    _plan: ShotPlan | None = None

    def finished(self) -> Callable[[str, Job], None]:
        """What the main thread does with the finished job: list and show its take."""
        return scene_takes.apply_finished

    def job_model(self, context: bpy.types.Context) -> str | None:
        """The model set the job paints with (None: the server's default)."""
        return context.scene.underpaint.model.strip() or None

    def job_request(self, context: bpy.types.Context, shot: Shot, model: str | None,
                    model_set: ModelSet | None) -> tuple[ShotRequest, tuple[int, int]]:
        """This kind's request and the frames to export."""
        raise NotImplementedError

    def plan(self, context: bpy.types.Context, wait: bool) -> ShotPlan:
        scene = context.scene
        if scene.camera is None:
            raise UserError("The scene has no camera: add one and make it the scene camera (Ctrl Numpad 0).")
        folder = scene_takes.shot_folder(scene, context)
        client = server_status.preferences_client(context)
        model = self.job_model(context)
        check_server(client, wait, model)
        status = server_status.STATUS
        controls.sync(scene.underpaint, status.model_set(scene.underpaint.model))
        request, frames = self.job_request(context, Shot(folder / "package", folder), model,
                                           status.model_set(model or ""))
        if status.state == "connected" and status.client == client:  # what this server has trained
            unknown = [s.name for s in request.paint.styles if s.name not in status.styles]
            if unknown:
                trained = ", ".join(status.styles) or "none yet"
                raise UserError(f"The server has no style named {unknown[0]!r} (trained: {trained}): train it "
                                "in Style Training, or clear the Style field.")
        if any(control.name == "pose" for control in request.paint.controls) and not passes.shot_rigs(scene):
            raise UserError("Pose is ticked, but the shot has no rig for the pose pass to read: untick Pose in "
                            "Controls, or add a humanoid armature to the shot (visible and rendered).")
        shot = scene_takes.shot_name(scene)
        # Motion vectors let the server measure the take's flicker along the true motion (Temporal QC);
        # they cost export time (Blender evaluates the neighbouring frames too), so QC can be turned off.
        options = passes.ExportOptions(shot_name=shot, color=request.paint.use_color,
                                       motion=scene.underpaint.temporal_qc)
        return ShotPlan(scene.name, frames, options, request, client, f"{self.bl_label} '{shot}'", self.finished())

    def build(self, context: bpy.types.Context, wait: bool) -> tuple[Job, OnDone | None]:
        plan = self.plan(context, wait)
        plan.export(context)
        return plan.job()

    def invoke(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self._wait() or context.window is None:
            return self._launch(context, modal=False)
        if self._refuse_if_busy(context):
            return {"CANCELLED"}
        try:
            plan = self.plan(context, wait=False)
        except REFUSALS as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self._plan = plan

        def show(done: int, total: int) -> None:
            job_timer.write_status(plan.scene, self.slot, progress=done / total,
                                   message=f"Exporting passes {done}/{total}")

        self._export = ModalExport(plan.scene, plan.export_steps(), plan.frames[1] - plan.frames[0] + 1, show)
        job_timer.write_status(plan.scene, self.slot, state="exporting", kind=plan.request.kind, progress=0.0,
                               message="Exporting passes")
        self._export.begin(context, self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        if self._export is None:
            return super().modal(context, event)
        assert self._plan is not None
        step = self._export.handle(context, event)
        if step.outcome == "ignored":
            return {"PASS_THROUGH"}
        if step.outcome == "running":
            return {"RUNNING_MODAL"}
        self._export = None
        if step.outcome == "done":
            job, on_done = self._plan.job()
            return self._run(context, job, on_done, wait=False, modal=True)
        job_timer.write_status(self._plan.scene, self.slot, state=step.outcome, message=step.message)
        self.report({"WARNING"} if step.outcome == "cancelled" else {"ERROR"}, step.message)
        return {"CANCELLED"}


class UNDERPAINT_OT_stylize_shot(ShotJobOperator, bpy.types.Operator):
    """Paint the shot: export its passes, send them to the server and load the painted take"""

    bl_idname = "underpaint.stylize_shot"
    bl_label = "Stylize Shot"

    def job_request(self, context: bpy.types.Context, shot: Shot, model: str | None,
                    model_set: ModelSet | None) -> tuple[ShotRequest, tuple[int, int]]:
        scene = context.scene
        width, height = job_params.generation_size(scene, model_set)
        paint = job_params.paint(scene.underpaint, model_set)
        return Stylize(shot, paint, width, height, model), job_params.shot_range(scene)


class EditOperator(ShotJobOperator):
    """Re-render and refine: an edit of the active take paints with the take's model set and size."""

    def job_model(self, context: bpy.types.Context) -> str | None:
        return job_params.active_take(context.scene).model or None


class UNDERPAINT_OT_preview_frame(ShotJobOperator, bpy.types.Operator):
    """Paint one engine window around the current frame with fewer steps and show it through the camera:
    check prompt, style and strength in seconds before painting the whole shot"""

    bl_idname = "underpaint.preview_frame"
    bl_label = "Preview Frame"

    def job_request(self, context: bpy.types.Context, shot: Shot, model: str | None,
                    model_set: ModelSet | None) -> tuple[ShotRequest, tuple[int, int]]:
        scene = context.scene
        settings = scene.underpaint
        width, height = job_params.generation_size(scene, model_set)
        paint = job_params.paint(settings, model_set)
        paint = replace(paint, steps=min(paint.steps, settings.preview_steps))
        first, last = job_params.shot_range(scene)
        frames = job_params.preview_range(scene.frame_current, model_set.window if model_set else None, first, last)
        return Stylize(shot, paint, width, height, model), frames


class UNDERPAINT_OT_show_controls(ShotJobOperator, bpy.types.Operator):
    """Load the control images the model will see (each enabled control of the chosen model set) as image
    sequences through the camera, before painting"""

    bl_idname = "underpaint.show_controls"
    bl_label = "Show Controls"

    def finished(self) -> Callable[[str, Job], None]:
        return scene_takes.show_controls

    def job_request(self, context: bpy.types.Context, shot: Shot, model: str | None,
                    model_set: ModelSet | None) -> tuple[ShotRequest, tuple[int, int]]:
        scene = context.scene
        width, height = job_params.generation_size(scene, model_set)
        paint = job_params.paint(scene.underpaint, model_set)
        if not paint.controls:
            raise UserError("No control is enabled: tick at least one in Controls.")
        frames = job_params.shot_range(scene)
        return ShowControls(shot, paint, width, height, frames, model), frames


class UNDERPAINT_OT_rerender_range(EditOperator, bpy.types.Operator):
    """Re-paint the preview range (or the selected markers' frames) of the active take; the rest stays as it is"""

    bl_idname = "underpaint.rerender_range"
    bl_label = "Re-render Range"

    frame_start: bpy.props.IntProperty(name="Start", default=0, options={"SKIP_SAVE"})  # type: ignore[valid-type]
    frame_end: bpy.props.IntProperty(name="End", default=-1, options={"SKIP_SAVE"})  # type: ignore[valid-type]

    def job_request(self, context: bpy.types.Context, shot: Shot, model: str | None,
                    model_set: ModelSet | None) -> tuple[ShotRequest, tuple[int, int]]:
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
        paint = job_params.paint(scene.underpaint, model_set)
        return Rerender(shot, paint, take.name, frames, model), (take.frame_start, take.frame_end)


class UNDERPAINT_OT_refine_region(EditOperator, bpy.types.Operator):
    """Re-paint only the selected objects in the active take (over the preview range when it is on)"""

    bl_idname = "underpaint.refine_region"
    bl_label = "Refine Region"

    def job_request(self, context: bpy.types.Context, shot: Shot, model: str | None,
                    model_set: ModelSet | None) -> tuple[ShotRequest, tuple[int, int]]:
        scene = context.scene
        take = job_params.active_take(scene)
        frames = job_params.edit_range(scene) if scene.use_preview_range else None
        if frames is not None:
            frames = (max(frames[0], take.frame_start), min(frames[1], take.frame_end))
        names, masks = refine_region(context, shot.takes_folder / "refine_masks", frames or (take.frame_start, take.frame_end))
        paint = job_params.paint(scene.underpaint, model_set)
        request = Refine(shot, paint, take.name, tuple(names), scene.underpaint.mask_dilate, frames, model,
                         tuple(sorted(masks.items())))
        return request, (take.frame_start, take.frame_end)



def refine_region(context: bpy.types.Context, folder: Path, frames: tuple[int, int]) -> tuple[list[str], dict[int, Path]]:
    """What Refine Region repaints, by the refine source: object names, or mask frames drawn into `folder`."""
    scene = context.scene
    source = job_params.refine_source(context)
    span = range(frames[0], frames[1] + 1)
    try:
        if source == "MASK":
            mask = scene.underpaint.refine_mask
            if mask is None:
                raise UserError("Choose the Mask to refine inside (draw one in the Image or Movie Clip editor).")
            return [], refine_masks.mask_frames(scene, mask, span, folder)
        if source == "BONES":
            armature = context.active_object
            if armature is None or armature.type != "ARMATURE":
                raise UserError("Make the rig the active object and select its bones in Pose Mode to refine them.")
            bones = refine_masks.selected_bones(armature)
            if not bones:
                raise UserError(f"Select the bones of {armature.name!r} to refine (Pose Mode), e.g. the hand.")
            return [], refine_masks.bone_frames(scene, armature, bones, span, folder)
    except refine_masks.MaskError as exc:
        raise UserError(str(exc)) from None
    names = job_params.refine_objects(context)
    if not names:
        raise UserError("Select the objects to refine (or bones in Pose Mode, or choose a Mask): their pixels "
                        "in the take are painted again.")
    hidden = [name for name in names if bpy.data.objects[name].hide_render]
    if hidden:
        raise UserError(f"{', '.join(hidden)} {'is' if len(hidden) == 1 else 'are'} hidden from renders, so the "
                        "shot has no pixels of it to refine: enable it for renders, or select another object.")
    return names, {}


class UNDERPAINT_OT_preview_mask(bpy.types.Operator):
    """Show the current frame's refine mask (the chosen Mask, or the selected bones' capsules) over the take,
    before Refine Region is sent"""

    bl_idname = "underpaint.preview_mask"
    bl_label = "Preview Mask"

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        if scene.camera is None or scene.camera.type != "CAMERA":
            self.report({"ERROR"}, "The scene has no camera to show the mask through.")
            return {"CANCELLED"}
        try:
            folder = scene_takes.shot_folder(scene, context) / "refine_masks" / "preview"
            names, masks = refine_region(context, folder, (scene.frame_current, scene.frame_current))
        except (UserError, scene_takes.OutputFolderError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        if names:
            self.report({"INFO"}, f"Refine Region repaints the selected objects ({', '.join(names)}); "
                        "the server masks them from the object index pass.")
            return {"FINISHED"}
        layer = refine_masks.overlay(masks[scene.frame_current], folder / f"overlay-{scene.frame_current:04d}.png")
        scene_takes.show_mask_preview(scene.camera.data, scene_takes.shot_name(scene), layer)
        self.report({"INFO"}, f"Frame {scene.frame_current}: the refine mask, in red over the take")
        return {"FINISHED"}


classes = (UNDERPAINT_OT_stylize_shot, UNDERPAINT_OT_preview_frame, UNDERPAINT_OT_show_controls,
           UNDERPAINT_OT_rerender_range, UNDERPAINT_OT_refine_region, UNDERPAINT_OT_preview_mask)
