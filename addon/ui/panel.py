"""The "Underpaint" tab in the 3D viewport's sidebar (N panel)."""

from __future__ import annotations

import bpy


class UNDERPAINT_PT_main(bpy.types.Panel):
    bl_idname = "UNDERPAINT_PT_main"
    bl_label = "Underpaint"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Underpaint"

    def draw(self, context: bpy.types.Context) -> None:
        settings = context.scene.underpaint
        layout = self.layout
        layout.prop(settings, "prompt")
        layout.prop(settings, "negative_prompt")
        layout.prop(settings, "model")
        row = layout.row(align=True)
        row.prop(settings, "seed")
        row.prop(settings, "seed_lock", text="", icon="LOCKED" if settings.seed_lock else "UNLOCKED")
        col = layout.column(heading="Controls")
        for name in ("depth", "normal", "pose"):
            row = col.row(align=True)
            row.prop(settings, f"use_{name}")
            sub = row.row()
            sub.active = getattr(settings, f"use_{name}")
            sub.prop(settings, f"{name}_weight", text="")
        row = layout.row(align=True)
        row.prop(settings, "width")
        row.prop(settings, "height")


classes = (UNDERPAINT_PT_main,)
