"""The chosen model set's controls in a scene's settings, kept in step with the server's health.

`scene.underpaint.controls` holds one item per control the scene has met (name, on/off,
weight); the chosen set's controls are marked available, in the set's order, and the
panel draws those. A control first met starts at the set's default weight; one the set
lacks keeps its settings for the next set that has it. When the server does not list
controls (an older backend, or no answer yet) the items stay as they were. Main thread
only: it writes scene data (from the timer, a file load, a change of model set, or an
operator about to send a job).
"""

from __future__ import annotations

from typing import Any

import bpy

from .model_sets import LEGACY_CONTROLS, ON_AT_FIRST, ModelSet


def _assign(item: Any, name: str, value: Any) -> None:
    """Write only a changed value, so an unchanged health check leaves the file unmodified."""
    if getattr(item, name) != value:
        setattr(item, name, value)


def migrate(settings: Any) -> None:
    """Once per scene: the controls from the properties that held them before (old .blend files), and a
    size the file chose kept as a custom size."""
    if settings.controls_migrated:
        return
    for spec in LEGACY_CONTROLS:
        if settings.controls.get(spec.name) is None:
            item = settings.controls.add()
            item.name, item.label = spec.name, spec.label
            item.enabled = getattr(settings, f"use_{spec.name}")
            item.weight = getattr(settings, f"{spec.name}_weight")
    if settings.is_property_set("width") or settings.is_property_set("height"):
        settings.size_mode = "CUSTOM"
    settings.controls_migrated = True


def sync(settings: Any, model_set: ModelSet | None) -> None:
    """Bring the settings' controls in step with `model_set` (None or no controls listed: leave them)."""
    migrate(settings)
    if model_set is None or model_set.controls is None:
        return
    items = settings.controls
    wanted = [spec.name for spec in model_set.controls]
    for spec in model_set.controls:
        item = items.get(spec.name)
        if item is None:
            item = items.add()
            item.name, item.weight, item.enabled = spec.name, spec.default_weight, spec.name in ON_AT_FIRST
        _assign(item, "label", spec.label)
        _assign(item, "available", True)
    for item in items:
        if item.name not in wanted:
            _assign(item, "available", False)
    for index, name in enumerate(wanted):
        current = items.find(name)
        if current != index:
            items.move(current, index)


def sync_all(only_new: bool = False) -> None:
    """Every scene (`only_new`: those not synced yet), against what the last health check said of its model set."""
    from .server_status import STATUS

    for scene in bpy.data.scenes:
        settings = getattr(scene, "underpaint", None)
        if settings is not None and not (only_new and settings.controls_migrated):
            sync(settings, STATUS.model_set(settings.model))


def shown(settings: Any) -> list[Any]:
    """The control items of the chosen model set, in its order (what the panel draws)."""
    return [item for item in settings.controls if item.available]
