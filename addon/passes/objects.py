"""The object index table: which `pass_index` stands for which object in the index pass.

Indices are given for the export only and put back afterwards, so the
artist's own pass indices (and whatever compositing relies on them) are
untouched. They are stable: objects sorted by name get 1, 2, 3, ..., the same
on every frame and on every export of the same scene.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import bpy

from .options import ExportError

# Object types that put surfaces into a render.
_GEOMETRY_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT", "CURVES", "POINTCLOUD", "VOLUME"}
MAX_INDEX = 32767


def rendered_objects(view_layer: bpy.types.ViewLayer) -> list[bpy.types.Object]:
    """Objects the view layer renders: in collections neither excluded nor disabled for render, sorted by name.

    Walks the collections instead of `view_layer.objects`, which is empty until Blender next syncs the
    layer (a scene built by a script and exported at once).
    """
    found: dict[str, bpy.types.Object] = {}

    def walk(layer_collection: bpy.types.LayerCollection) -> None:
        if layer_collection.exclude or layer_collection.collection.hide_render:
            return
        found.update((obj.name_full, obj) for obj in layer_collection.collection.objects if not obj.hide_render)
        for child in layer_collection.children:
            walk(child)

    walk(view_layer.layer_collection)
    return sorted(found.values(), key=lambda obj: obj.name_full)


def indexed_objects(view_layer: bpy.types.ViewLayer) -> list[bpy.types.Object]:
    """The view layer's renderable geometry, sorted by name."""
    objects = [obj for obj in rendered_objects(view_layer) if obj.type in _GEOMETRY_TYPES]
    if len(objects) > MAX_INDEX:
        raise ExportError(f"the view layer has {len(objects)} renderable objects; the index pass holds {MAX_INDEX}")
    return objects


@contextmanager
def temporary_pass_indices(objects: list[bpy.types.Object]) -> Iterator[dict[int, bpy.types.Object]]:
    """Number `objects` 1..n for the export; yields index -> object and restores the old indices."""
    saved = [(obj, obj.pass_index) for obj in objects]
    try:
        for index, obj in enumerate(objects, start=1):
            obj.pass_index = index
        yield dict(enumerate(objects, start=1))
    finally:
        for obj, old in saved:
            obj.pass_index = old


def owned_indices(armature: bpy.types.Object, table: Mapping[int, bpy.types.Object]) -> set[int]:
    """Indices of the objects that make up the armature's character: its children and the meshes it deforms.

    A joint hidden only by its own character's body is still drawn by OpenPose, so these do not occlude it.
    """
    children = set(armature.children_recursive)
    return {
        index for index, obj in table.items()
        if obj in children or any(mod.type == "ARMATURE" and mod.object == armature for mod in obj.modifiers)
    }
