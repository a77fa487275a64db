"""Underpaint: paint over 3D blocking with a local AI render server.

The add-on is thin: it measures the scene (passes), talks to the server off the
main thread (client, jobs) and shows what comes back (results, ui). Torch never
enters Blender; every model convention lives in the backend.
"""

from __future__ import annotations

import bpy

from . import jobs, preferences, properties, server_process
from .ui import export_op, panel, stylize_ops

# Registration order: preferences and property groups, then operators, then panels
# (export_op after panel: its sub-panel hangs under the main panel).
_MODULES = (preferences, properties, stylize_ops, panel, export_op)
# Modules with set-up beyond classes (timers, handlers, the local server, the status bar, properties on
# Blender's own types), run after them.
_SERVICES = (jobs, server_process, panel, export_op)


def _classes() -> list[type]:
    return [cls for module in _MODULES for cls in module.classes]


def register() -> None:
    for cls in _classes():
        bpy.utils.register_class(cls)
    properties.attach()
    for module in _SERVICES:
        module.register()


def unregister() -> None:
    for module in reversed(_SERVICES):
        module.unregister()
    properties.detach()
    for cls in reversed(_classes()):
        bpy.utils.unregister_class(cls)
