"""Train Style: teach the model a look from a folder of images (a LoRA), to paint with by name."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import bpy

from .. import server_status
from ..jobs import Job, TrainStyle
from .job_ops import JobOperator, OnDone, check_server
from .job_params import UserError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")


def _style_trained(scene_name: str, job: Job) -> None:
    """`on_done` of style training: the new style joins the panel's list and becomes the chosen style."""
    server_status.STATUS.styles = [str(s.get("name")) for s in job.result.get("styles", [])]
    scene = bpy.data.scenes.get(scene_name)
    if scene is not None and isinstance(job.request, TrainStyle):
        scene.underpaint.style = job.request.name


class UNDERPAINT_OT_train_style(JobOperator, bpy.types.Operator):
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

    def build(self, context: bpy.types.Context, wait: bool) -> tuple[Job, OnDone | None]:
        name = self.name.strip()
        if not name:
            raise UserError("Give the style a name.")
        folder = Path(bpy.path.abspath(self.directory)) if self.directory else None
        if folder is None or not folder.is_dir():
            raise UserError(f"Choose a folder of images to train on ({self.directory or 'none chosen'}).")
        images = {p.name: p for p in sorted(folder.iterdir())
                  if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES + (".txt",)}
        if not any(p.suffix.lower() in IMAGE_SUFFIXES for p in images.values()):
            raise UserError(f"{folder} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
        client = server_status.preferences_client(context)
        model = context.scene.underpaint.model.strip() or None
        check_server(client, wait, model)
        request = TrainStyle(name, images, steps=self.steps, rank=self.rank, resolution=self.resolution,
                             trigger=self.trigger.strip(), force=self.force, model=model)
        return Job(request, client, f"Train style {name}"), partial(_style_trained, context.scene.name)


classes = (UNDERPAINT_OT_train_style,)
