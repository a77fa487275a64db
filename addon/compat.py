"""Blender version differences (4.2 LTS .. 5.0), kept in this one module.

Everything else in the add-on calls these helpers instead of checking
`bpy.app.version` itself.
"""

from __future__ import annotations

import bpy

BLENDER_5 = bpy.app.version >= (5, 0, 0)


def addon_package() -> str:
    """The add-on's package name: `bl_ext.<repo>.underpaint` when installed as an extension."""
    return __package__ or "underpaint"
