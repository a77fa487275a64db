"""Export Shot: the operator, its sidebar panel, and the per-armature joint overrides.

In the UI the export runs through the shared modal exporter (`modal_export`: one
frame per timer event, Blender's progress bar, Esc to cancel). Without an event loop (background
mode: `blender -b`, render farms, the `bpy` module) the same operator exports
synchronously and prints its progress.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import bpy

from .. import job_timer, scene_takes
from ..passes import ExportError, ExportOptions, export_shot, iter_export
from ..passes.bone_maps import OPENPOSE_KEYPOINTS
from ..passes.export import check_request
from ..passes.pose import OVERRIDE_PROPERTY, armature_rig
from .modal_export import ModalExport
from .sidebar import SidebarSubPanel


def default_range(scene: bpy.types.Scene) -> tuple[int, int]:
    """The frames an export covers unless told otherwise: the preview range when it is on, else the scene's."""
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end
    return scene.frame_start, scene.frame_end


def default_directory(context: bpy.types.Context, scene: bpy.types.Scene) -> Path:
    """<output folder from the preferences>/<shot>/package: where Stylize exports the shot too."""
    try:
        return scene_takes.shot_folder(scene, context) / "package"
    except scene_takes.OutputFolderError as exc:
        raise ExportError(str(exc)) from None


class UNDERPAINT_PG_joint_override(bpy.types.PropertyGroup):
    """One OpenPose joint taken from a bone of the artist's choosing."""

    joint: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Joint", items=[(name, name.replace("_", " ").title(), "") for name in OPENPOSE_KEYPOINTS]
    )
    bone: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Bone", description="The bone at this joint (empty: leave the joint out of the pose)"
    )
    use_tail: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Tail", description="Use the bone's tail instead of its head", default=False
    )


class UNDERPAINT_PG_pose_map(bpy.types.PropertyGroup):
    """`Object.underpaint_pose`: joint overrides on top of the rig convention found automatically."""

    joints: bpy.props.CollectionProperty(type=UNDERPAINT_PG_joint_override)  # type: ignore[valid-type]
    active_joint: bpy.props.IntProperty(name="Active Joint", default=0)  # type: ignore[valid-type]


class UNDERPAINT_OT_export_shot(bpy.types.Operator):
    """Render the shot's control passes (depth, normals, object index, pose) into a shot package folder"""

    bl_idname = "underpaint.export_shot"
    bl_label = "Export Shot Package"
    bl_options = {"REGISTER"}

    directory: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Folder", subtype="DIR_PATH",
        description="Folder of the shot package (empty: <output folder>/<shot>/package)",
    )
    frame_start: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Start", description="First frame (default: the preview range when on, else the scene's)"
    )
    frame_end: bpy.props.IntProperty(name="End", description="Last frame")  # type: ignore[valid-type]
    color: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Colour", description="Also render the rough colour pass (Workbench) for video-to-video",
        default=False,
    )
    motion: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Motion Vectors", description="Also write Cycles' Vector pass", default=True
    )

    _export: ModalExport | None = None
    _range: tuple[int, int] = (0, 0)

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.scene is not None

    def _request(self, context: bpy.types.Context) -> tuple[Path, int, int, ExportOptions]:
        scene = context.scene
        start, end = default_range(scene)
        if self.properties.is_property_set("frame_start"):
            start = self.frame_start
        if self.properties.is_property_set("frame_end"):
            end = self.frame_end
        directory = Path(self.directory) if self.directory.strip() else default_directory(context, scene)
        view_layer = context.view_layer.name if context.view_layer.name in scene.view_layers else None
        options = ExportOptions(shot_name=scene_takes.shot_name(scene), color=self.color,
                                motion=self.motion, view_layer=view_layer)
        return directory, start, end, options

    def execute(self, context: bpy.types.Context) -> set[str]:
        try:
            directory, start, end, options = self._request(context)
            shot = export_shot(context.scene, directory, start, end, options,
                               progress=lambda done, total: print(f"Underpaint: exported frame {done}/{total}",
                                                                  flush=True))
        except ExportError as exc:
            self.report({"ERROR"}, f"Export failed: {exc}")
            return {"CANCELLED"}
        self.report({"INFO"}, f"Exported frames {start}-{end} to {shot.parent}")
        return {"FINISHED"}

    def invoke(self, context: bpy.types.Context, _event: bpy.types.Event) -> set[str]:
        if bpy.app.background or context.window is None:
            return self.execute(context)
        if job_timer.busy(context.scene.name):
            self.report({"ERROR"}, "This scene is already exporting or painting: wait for it, or cancel it (Esc).")
            return {"CANCELLED"}
        try:
            directory, start, end, options = self._request(context)
            check_request(context.scene, directory, start, end, options)
        except ExportError as exc:
            self.report({"ERROR"}, f"Export failed: {exc}")
            return {"CANCELLED"}
        self._range = (start, end)
        steps = iter_export(context.scene, directory, start, end, options)
        self._export = ModalExport(context.scene.name, steps, end - start + 1)
        self._export.begin(context, self)
        return {"RUNNING_MODAL"}

    def modal(self, context: bpy.types.Context, event: bpy.types.Event) -> set[str]:
        assert self._export is not None
        step = self._export.handle(context, event)
        if step.outcome == "ignored":
            return {"PASS_THROUGH"}
        if step.outcome == "running":
            return {"RUNNING_MODAL"}
        if step.outcome == "done":
            assert step.shot_json is not None
            self.report({"INFO"}, f"Exported frames {self._range[0]}-{self._range[1]} to {step.shot_json.parent}")
            return {"FINISHED"}
        self.report({"WARNING"} if step.outcome == "cancelled" else {"ERROR"}, step.message)
        return {"CANCELLED"}


class UNDERPAINT_OT_joint_override_add(bpy.types.Operator):
    """Take an OpenPose joint from a bone of your choice on the active armature"""

    bl_idname = "underpaint.joint_override_add"
    bl_label = "Add Joint Override"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        return context.object is not None and context.object.type == "ARMATURE"

    def execute(self, context: bpy.types.Context) -> set[str]:
        pose_map = getattr(context.object, OVERRIDE_PROPERTY)
        pose_map.joints.add()
        pose_map.active_joint = len(pose_map.joints) - 1
        return {"FINISHED"}


class UNDERPAINT_OT_joint_override_remove(bpy.types.Operator):
    """Remove the selected joint override (the joint goes back to the automatic bone)"""

    bl_idname = "underpaint.joint_override_remove"
    bl_label = "Remove Joint Override"
    bl_options = {"REGISTER", "UNDO"}

    @classmethod
    def poll(cls, context: bpy.types.Context) -> bool:
        obj = context.object
        return obj is not None and obj.type == "ARMATURE" and len(getattr(obj, OVERRIDE_PROPERTY).joints) > 0

    def execute(self, context: bpy.types.Context) -> set[str]:
        pose_map = getattr(context.object, OVERRIDE_PROPERTY)
        pose_map.joints.remove(pose_map.active_joint)
        pose_map.active_joint = max(0, min(pose_map.active_joint, len(pose_map.joints) - 1))
        return {"FINISHED"}


class UNDERPAINT_UL_joint_overrides(bpy.types.UIList):
    def draw_item(self, _context: bpy.types.Context, layout: bpy.types.UILayout, data: Any, item: Any,
                  _icon: int, _active_data: Any, _active_prop: str, _index: int = 0, _flt_flag: int = 0) -> None:
        row = layout.row(align=True)
        row.prop(item, "joint", text="")
        row.prop_search(item, "bone", data.id_data.data, "bones", text="")
        row.prop(item, "use_tail", text="", icon="BONE_DATA")


class UNDERPAINT_PT_export(SidebarSubPanel, bpy.types.Panel):
    bl_idname = "UNDERPAINT_PT_export"
    bl_label = "Shot Export"

    def draw(self, context: bpy.types.Context) -> None:
        layout = self.layout
        start, end = default_range(context.scene)
        layout.operator(UNDERPAINT_OT_export_shot.bl_idname, icon="RENDER_ANIMATION",
                        text=f"Export Passes {start}-{end}")
        obj = context.object
        if obj is None or obj.type != "ARMATURE":
            layout.label(text="Select an armature to check its pose joints", icon="INFO")
            return
        box = layout.box()
        try:
            rig = armature_rig(obj)
        except ExportError as exc:
            box.label(text=str(exc), icon="ERROR")
        else:
            box.label(text=f"Pose: {rig.rig_type}, {len(rig.bone_map)} of 18 joints" if rig
                      else "Pose: no body rig found; add joint overrides", icon="ARMATURE_DATA")
        row = box.row()
        pose_map = getattr(obj, OVERRIDE_PROPERTY)
        row.template_list("UNDERPAINT_UL_joint_overrides", "", pose_map, "joints", pose_map, "active_joint", rows=3)
        column = row.column(align=True)
        column.operator(UNDERPAINT_OT_joint_override_add.bl_idname, icon="ADD", text="")
        column.operator(UNDERPAINT_OT_joint_override_remove.bl_idname, icon="REMOVE", text="")


classes = (
    UNDERPAINT_PG_joint_override,
    UNDERPAINT_PG_pose_map,
    UNDERPAINT_OT_export_shot,
    UNDERPAINT_OT_joint_override_add,
    UNDERPAINT_OT_joint_override_remove,
    UNDERPAINT_UL_joint_overrides,
    UNDERPAINT_PT_export,
)


# Attached here, after the classes, not from the property group's own register(): a PropertyGroup
# with register/unregister class methods makes bpy 4.2's module crash at exit (measured).
def register() -> None:
    setattr(bpy.types.Object, OVERRIDE_PROPERTY, bpy.props.PointerProperty(type=UNDERPAINT_PG_pose_map))


def unregister() -> None:
    delattr(bpy.types.Object, OVERRIDE_PROPERTY)
