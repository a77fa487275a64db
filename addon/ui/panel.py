"""The "Underpaint" tab in the 3D viewport's sidebar (N panel), the takes list, and job progress in the
status bar.

Drawing never talks to the server: the server's state comes from the last
health check (`server_status.STATUS`), a job's progress from the scene's settings,
both written by the add-on's timer. The controls, the size and which options the
chosen model set can use come from that health check too, through the scene's
settings (`controls`), so a control the server adds shows up without an add-on release.
"""

from __future__ import annotations

import textwrap

import bpy

from .. import controls, job_timer, server_process, server_status
from ..model_sets import ModelSet, can
from . import job_params
from .sidebar import SidebarPanel, SidebarSubPanel

STATUS_ICONS = {
    "connected": "CHECKMARK",
    "unknown": "QUESTION",
    "not_running": "CANCEL",
    "wrong_token": "LOCKED",
    "version_mismatch": "ERROR",
    "error": "ERROR",
}
JOB_ICONS = {"done": "CHECKMARK", "failed": "ERROR", "cancelled": "CANCEL"}


def _wrapped(layout: bpy.types.UILayout, context: bpy.types.Context, text: str, icon: str = "NONE") -> None:
    """Long messages as several label lines that fit the sidebar's width."""
    width = max(20, int((context.region.width if context.region else 300) / 7))
    column = layout.column(align=True)
    for number, line in enumerate(textwrap.wrap(text, width) or [""]):
        column.label(text=line, icon=icon if number == 0 else "BLANK1")


def _draw_job(layout: bpy.types.UILayout, context: bpy.types.Context, status: bpy.types.PropertyGroup,
              slot: str) -> None:
    """A job's progress bar and Cancel button while it runs; its outcome afterwards."""
    if status.state in job_timer.STATES_ACTIVE:
        row = layout.row(align=True)
        row.progress(factor=status.progress, type="BAR", text=status.message or status.state.capitalize())
        row.operator("underpaint.cancel_job", text="", icon="X").slot = slot
    elif status.state:
        _wrapped(layout, context, status.message or status.state, JOB_ICONS.get(status.state, "INFO"))


def _draw_server(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """The last health check's verdict; when no server answers, the button that starts one."""
    status = server_status.STATUS
    box = layout.box()
    if status.state == "connected":
        box.label(text=status.message, icon=STATUS_ICONS["connected"])
        return
    _wrapped(box, context, status.message, STATUS_ICONS.get(status.state, "ERROR"))
    problem = server_process.exit_problem()
    if problem:
        _wrapped(box, context, problem, "CONSOLE")
    if status.state in ("not_running", "unknown"):
        box.operator("underpaint.start_server", icon="PLAY")


def _draw_range(layout: bpy.types.UILayout, context: bpy.types.Context) -> None:
    """Which frames Stylize paints: the custom range when on, else what the scene says."""
    scene = context.scene
    settings = scene.underpaint
    row = layout.row(align=True)
    row.prop(settings, "use_custom_range", text="")
    if settings.use_custom_range:
        row.prop(settings, "frame_start")
        row.prop(settings, "frame_end")
    elif scene.use_preview_range:
        row.label(text=f"Preview range {scene.frame_preview_start}-{scene.frame_preview_end}")
    else:
        row.label(text=f"Scene range {scene.frame_start}-{scene.frame_end}")


def _draw_controls(layout: bpy.types.UILayout, settings: bpy.types.PropertyGroup) -> None:
    """One toggle and weight per control of the chosen model set."""
    column = layout.column(heading="Controls")
    for item in controls.shown(settings):
        row = column.row(align=True)
        row.prop(item, "enabled", text=item.label or item.name)
        sub = row.row()
        sub.active = item.enabled
        sub.prop(item, "weight", text="")


def _draw_size(layout: bpy.types.UILayout, scene: bpy.types.Scene, model_set: ModelSet | None) -> None:
    """AUTO: the size the camera's aspect gives at the model set's native size; CUSTOM: width and height."""
    settings = scene.underpaint
    row = layout.row(align=True)
    row.prop(settings, "size_mode", expand=True)
    auto = model_set.auto_size(job_params.camera_aspect(scene)) if model_set is not None else None
    if settings.size_mode == "AUTO" and auto is not None:
        layout.label(text=f"{auto[0]} x {auto[1]} px, the camera's aspect at {model_set.name}'s native size")
        return
    row = layout.row(align=True)
    row.prop(settings, "width")
    row.prop(settings, "height")


class UNDERPAINT_UL_takes(bpy.types.UIList):
    """One row per take: prompt, draft or not, seed, flicker and time."""

    def draw_item(self, _context: bpy.types.Context, layout: bpy.types.UILayout, _data: object,
                  item: bpy.types.PropertyGroup, _icon: int, _active_data: object, _active_prop: str,
                  _index: int = 0, _flt_flag: int = 0) -> None:
        row = layout.row(align=True)
        kind_icon = {"rerender": "FILE_REFRESH", "refine": "BRUSH_DATA"}.get(item.kind, "IMAGE_DATA")
        row.label(text=item.prompt or item.name, icon=kind_icon)
        if item.quality == "draft":
            row.label(text="draft")
        row.label(text=f"seed {item.seed}")
        if item.flicker >= 0:
            row.label(text=f"flicker {item.flicker:.1f}")
        row.label(text=item.created[11:16] if len(item.created) >= 16 else item.created)

    def filter_items(self, _context: bpy.types.Context, data: object, propname: str) -> tuple[list[int], list[int]]:
        """Newest take first."""
        items = getattr(data, propname)
        return [], list(reversed(range(len(items))))


class UNDERPAINT_PT_main(SidebarPanel, bpy.types.Panel):
    bl_idname = "UNDERPAINT_PT_main"
    bl_label = "Underpaint"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.underpaint
        layout = self.layout
        _draw_server(layout, context)

        column = layout.column(align=True)
        column.prop(settings, "prompt_text", text="Prompt Text")
        if settings.prompt_text is None:
            column.prop(settings, "prompt", text="")
        column.prop(settings, "negative_prompt", text="Negative")

        layout.prop(settings, "model")
        model_set = server_status.STATUS.model_set(settings.model)
        if can(model_set, "styles"):
            row = layout.row(align=True)
            row.prop(settings, "style")
            sub = row.row(align=True)
            sub.active = bool(settings.style)
            sub.prop(settings, "style_strength", text="")
        row = layout.row(align=True)
        row.prop(settings, "seed")
        row.prop(settings, "seed_lock", text="", icon="LOCKED" if settings.seed_lock else "UNLOCKED")
        if can(model_set, "video2video"):
            row = layout.row(align=True)
            row.prop(settings, "use_color")
            sub = row.row()
            sub.active = settings.use_color
            sub.prop(settings, "strength", slider=True)

        _draw_controls(layout, settings)
        _draw_size(layout, context.scene, model_set)
        drafting = settings.draft and can(model_set, "draft", default=False)
        if can(model_set, "draft", default=False):
            layout.prop(settings, "draft")
        row = layout.row(align=True)
        row.active = not drafting  # a draft runs its set's own schedule; these stay for the final
        row.prop(settings, "steps")
        row.prop(settings, "guidance")
        if can(model_set, "cache", default=False):
            layout.prop(settings, "cache")
        _draw_range(layout, context)
        layout.prop(settings, "temporal_qc")

        running = job_timer.busy(context.scene.name)
        row = layout.row()
        row.scale_y = 1.5
        row.enabled = not running
        row.operator("underpaint.stylize_shot", icon="BRUSHES_ALL")
        row = layout.row(align=True)
        row.enabled = not running
        row.operator("underpaint.preview_frame", icon="RESTRICT_RENDER_OFF")
        row.prop(settings, "preview_steps", text="Steps")
        row = layout.row()
        row.enabled = not running
        row.operator("underpaint.show_controls", icon="MOD_OPACITY")
        _draw_job(layout, context, settings.job, "job")


class UNDERPAINT_PT_takes(SidebarSubPanel, bpy.types.Panel):
    bl_idname = "UNDERPAINT_PT_takes"
    bl_label = "Takes"
    bl_options = set()  # open by default: the takes are what the artist looks at

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.underpaint
        layout = self.layout
        layout.template_list("UNDERPAINT_UL_takes", "", settings, "takes", settings, "active_take", rows=4)
        if not 0 <= settings.active_take < len(settings.takes):
            return
        take = settings.takes[settings.active_take]
        col = layout.column(align=True)
        kind = f"{take.kind}, draft" if take.quality == "draft" else take.kind
        col.label(text=f"Take {take.name} ({kind}), frames {take.frame_start}-{take.frame_end}")
        col.label(text=f"Model {take.model or '-'}, style {take.style or '-'}, seed {take.seed}")
        if take.parent:
            col.label(text=f"Parent take {take.parent}", icon="LINKED")
        if take.flicker >= 0:
            floor = f" (colour render {take.flicker_floor:.1f})" if take.flicker_floor >= 0 else ""
            worst = f"; worst frames {take.worst_start}-{take.worst_end}" if take.worst_end >= take.worst_start else ""
            col.label(text=f"Flicker {take.flicker:.1f}{floor}{worst}", icon="GRAPH")
        row = layout.row(align=True)
        row.operator("underpaint.load_take", icon="IMPORT")
        row.operator("underpaint.worst_range", icon="PREVIEW_RANGE")
        row.operator("underpaint.flicker_plot", icon="GRAPH")
        row = layout.row(align=True)
        row.enabled = not job_timer.busy(context.scene.name)
        row.operator("underpaint.rerender_range", icon="FILE_REFRESH")
        sub = row.row(align=True)
        sub.enabled = can(server_status.STATUS.model_set(take.model), "masks")  # refining paints through a mask
        sub.operator("underpaint.refine_region", icon="BRUSH_DATA")
        row = layout.row(align=True)
        row.prop(settings, "refine_source")
        row.operator("underpaint.preview_mask", text="", icon="HIDE_OFF")
        if settings.refine_source in ("AUTO", "MASK"):
            layout.prop(settings, "refine_mask")
        layout.prop(settings, "mask_dilate")
        layout.prop(settings, "review_channel")


class UNDERPAINT_PT_styles(SidebarSubPanel, bpy.types.Panel):
    bl_idname = "UNDERPAINT_PT_styles"
    bl_label = "Style Training"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.underpaint
        layout = self.layout
        row = layout.row()
        row.enabled = not job_timer.busy(context.scene.name, "style_job")
        row.operator("underpaint.train_style", icon="OUTLINER_OB_IMAGE")
        _draw_job(layout, context, settings.style_job, "style_job")
        if server_status.STATUS.styles:
            _wrapped(layout, context, "Styles: " + ", ".join(server_status.STATUS.styles))


def draw_status_bar(self: bpy.types.Header, context: bpy.types.Context) -> None:
    """A running job's progress in the status bar, so it stays visible with the sidebar closed."""
    scene = context.scene
    if scene is None or not hasattr(scene, "underpaint"):
        return
    for status in (scene.underpaint.job, scene.underpaint.style_job):
        if status.state in job_timer.STATES_ACTIVE:
            self.layout.progress(factor=status.progress, type="BAR",
                                 text=f"Underpaint: {status.message or status.state}")


classes = (UNDERPAINT_UL_takes, UNDERPAINT_PT_main, UNDERPAINT_PT_takes, UNDERPAINT_PT_styles)


def register() -> None:
    bpy.types.STATUSBAR_HT_header.append(draw_status_bar)


def unregister() -> None:
    bpy.types.STATUSBAR_HT_header.remove(draw_status_bar)
