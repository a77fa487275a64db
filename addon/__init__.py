"""Underpaint: paint over 3D blocking with a local AI render server.

The add-on is thin: it measures the scene (passes), talks to the server off the
main thread (client, jobs) and shows what comes back (scene_takes, ui). Torch never
enters Blender; every model convention lives in the backend.

Importing this package needs no `bpy`: the Blender modules are imported when the
add-on registers, so the job module (`jobs`), the client and the file helpers
import, and are tested, in plain Python.
"""

from __future__ import annotations

from types import ModuleType


def _modules() -> tuple[tuple[ModuleType, ...], tuple[ModuleType, ...]]:
    """(modules whose `classes` register, in order; modules with set-up beyond classes, run after them)."""
    from . import job_timer, preferences, properties, server_process
    from .ui import export_op, job_ops, panel, server_ops, shot_ops, style_ops, take_ops

    # Preferences and property groups, then operators, then panels (export_op after panel: its
    # sub-panel hangs under the main panel).
    classes = (preferences, properties, job_ops, shot_ops, take_ops, style_ops, server_ops, panel, export_op)
    # Timers, handlers, the local server, the status bar, properties on Blender's own types.
    services = (job_timer, server_process, panel, export_op)
    return classes, services


def register() -> None:
    import bpy

    from . import properties

    classes, services = _modules()
    for module in classes:
        for cls in module.classes:
            bpy.utils.register_class(cls)
    properties.attach()
    for module in services:
        module.register()


def unregister() -> None:
    import bpy

    from . import properties

    classes, services = _modules()
    for module in reversed(services):
        module.unregister()
    properties.detach()
    for module in reversed(classes):
        for cls in reversed(module.classes):
            bpy.utils.unregister_class(cls)
