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


def sequencer_strips(editor: bpy.types.SequenceEditor) -> bpy.types.bpy_prop_collection:
    """The top-level strips of a sequence editor (`strips` in 5.0, `sequences` before)."""
    return editor.strips if BLENDER_5 else editor.sequences
