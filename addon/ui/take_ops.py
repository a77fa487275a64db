"""Load Take: show a take of the list through the camera and in the sequencer, fetching its frames if needed."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import bpy

from .. import scene_takes, server_status
from ..files import TEMPORAL_PLOT
from ..jobs import FetchTake, Job
from .job_ops import JobOperator, OnDone


def _show(scene_name: str, index: int, _job: Job) -> None:
    """`on_done` of a take download: show the take it fetched."""
    scene_takes.show_take(bpy.data.scenes[scene_name], index)


class UNDERPAINT_OT_load_take(JobOperator, bpy.types.Operator):
    """Show a take through the camera and in the sequencer (downloading its frames if they are not on disk)"""

    bl_idname = "underpaint.load_take"
    bl_label = "Load Take"

    index: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Take", description="Index in the takes list (-1 = the selected take)", default=-1,
        options={"SKIP_SAVE"},
    )

    _index = -1

    def _launch(self, context: bpy.types.Context, modal: bool) -> set[str]:
        scene = context.scene
        settings = scene.underpaint
        index = settings.active_take if self.index < 0 else self.index
        if not 0 <= index < len(settings.takes):
            self.report({"ERROR"}, "No take selected: choose one in the takes list.")
            return {"CANCELLED"}
        self._index = index
        if scene_takes.take_frames_missing(settings.takes[index]):
            return super()._launch(context, modal)
        problems = scene_takes.show_take(scene, index)
        self.report({"WARNING"} if problems else {"INFO"},
                    "; ".join(problems) or f"Take {settings.takes[index].name} loaded")
        return {"FINISHED"}

    def build(self, context: bpy.types.Context, wait: bool) -> tuple[Job, OnDone | None]:
        scene = context.scene
        entry = scene.underpaint.takes[self._index]
        job = Job(FetchTake(entry.name, Path(entry.directory)), server_status.preferences_client(context),
                  f"Load take {entry.name}")
        return job, partial(_show, scene.name, self._index)


class UNDERPAINT_OT_worst_range(bpy.types.Operator):
    """Set the preview range to the active take's worst flicker, so Re-render Range paints it again"""

    bl_idname = "underpaint.worst_range"
    bl_label = "Worst Range"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        settings = context.scene.underpaint
        if not 0 <= settings.active_take < len(settings.takes):
            return False
        take = settings.takes[settings.active_take]
        return bool(take.worst_end >= take.worst_start)

    def execute(self, context: bpy.types.Context) -> set[str]:
        scene = context.scene
        take = scene.underpaint.takes[scene.underpaint.active_take]
        scene.use_preview_range = True
        # Set the end first when moving the range forward, so the start never passes the end.
        if take.worst_start > scene.frame_preview_end:
            scene.frame_preview_end, scene.frame_preview_start = take.worst_end, take.worst_start
        else:
            scene.frame_preview_start, scene.frame_preview_end = take.worst_start, take.worst_end
        scene.frame_set(take.worst_start)
        self.report({"INFO"}, f"Preview range {take.worst_start}-{take.worst_end}: the take's worst flicker")
        return {"FINISHED"}


class UNDERPAINT_OT_flicker_plot(bpy.types.Operator):
    """Open the active take's flicker curve (per frame pair, worst ranges in red) in an Image Editor"""

    bl_idname = "underpaint.flicker_plot"
    bl_label = "Flicker Plot"

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        settings = context.scene.underpaint
        return 0 <= settings.active_take < len(settings.takes) and settings.takes[settings.active_take].flicker >= 0

    def execute(self, context: bpy.types.Context) -> set[str]:
        take = context.scene.underpaint.takes[context.scene.underpaint.active_take]
        path = Path(take.directory) / TEMPORAL_PLOT
        if not path.is_file():
            self.report({"ERROR"}, f"{path} is not on disk: Load Take fetches it with the frames.")
            return {"CANCELLED"}
        image = bpy.data.images.load(str(path), check_existing=True)
        image.reload()  # a re-fetched plot replaces the one Blender already holds
        for area in context.screen.areas if context.screen else []:
            if area.type == "IMAGE_EDITOR":
                area.spaces.active.image = image
                break
        else:
            self.report({"INFO"}, f"Loaded {image.name}: open it in an Image Editor")
        return {"FINISHED"}


classes = (UNDERPAINT_OT_load_take, UNDERPAINT_OT_worst_range, UNDERPAINT_OT_flicker_plot)
