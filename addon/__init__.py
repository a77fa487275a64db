"""Underpaint: paint over 3D blocking with a local AI render server.

The add-on is thin: it measures the scene (passes), talks to the server off the
main thread (client, jobs) and shows what comes back (results, ui). Torch never
enters Blender; every model convention lives in the backend.
"""

from __future__ import annotations

import bpy

from . import preferences, properties
from .ui import panel

# Registration order: preferences and property groups, then operators, then panels.
_MODULES = (preferences, properties, panel)


def _classes() -> list[type]:
    return [cls for module in _MODULES for cls in module.classes]


def register() -> None:
    for cls in _classes():
        bpy.utils.register_class(cls)
    properties.attach()


def unregister() -> None:
    properties.detach()
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
