"""Where every Underpaint panel lives: the 3D viewport's sidebar (N panel), tab "Underpaint"."""

from __future__ import annotations

MAIN_PANEL = "UNDERPAINT_PT_main"


class SidebarPanel:
    """Mixin for the main panel: the sidebar's "Underpaint" tab."""

    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Underpaint"


class SidebarSubPanel(SidebarPanel):
    """Mixin for a section under the main panel, closed until the artist opens it."""

    bl_parent_id = MAIN_PANEL
    bl_options = {"DEFAULT_CLOSED"}
