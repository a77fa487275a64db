"""Load Take: show a take of the list through the camera and in the sequencer, fetching its frames if needed."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import bpy

from .. import scene_takes, server_status
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


classes = (UNDERPAINT_OT_load_take,)
