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


# Options of a path property that may hold a blend-relative '//' path: 4.5 added a flag for it
# (5.0 warns without it), older versions refuse the flag.
BLEND_RELATIVE_PATH: set[str] = {"PATH_SUPPORTS_BLEND_RELATIVE"} if bpy.app.version >= (4, 5, 0) else set()


def sequencer_strips(editor: bpy.types.SequenceEditor) -> bpy.types.bpy_prop_collection:
    """The top-level strips of a sequence editor (`strips` in 5.0, `sequences` before)."""
    return editor.strips if BLENDER_5 else editor.sequences


# The names the object index pass has had in multilayer EXR channels: "Object Index" (5.0), "IndexOB" (4.2).
OBJECT_INDEX_PASS_NAMES = ("Object Index", "IndexOB")


def set_image_format(settings: bpy.types.ImageFormatSettings, file_format: str) -> None:
    """Choose an output format; 5.0 first picks a media type (multilayer EXR is its own), 4.2 has no media type."""
    if BLENDER_5:
        settings.media_type = "MULTI_LAYER_IMAGE" if file_format == "OPEN_EXR_MULTILAYER" else "IMAGE"
    settings.file_format = file_format


def new_node_material(name: str) -> bpy.types.Material:
    """A material with a shader node tree (5.0 gives every new material one; 4.2 needs `use_nodes`)."""
    material = bpy.data.materials.new(name)
    if material.node_tree is None:
        material.use_nodes = True
    return material


def compositor_output(scene: bpy.types.Scene) -> tuple[bpy.types.NodeTree, bpy.types.NodeSocket]:
    """Give `scene` an empty compositor; returns it and the socket whose image the render outputs.

    5.0: a compositor node group (made here, removed with `remove_compositor`) with a Group Output;
    4.2: the scene's own node tree with a Composite node.
    """
    if BLENDER_5:
        tree = bpy.data.node_groups.new(f"{scene.name} compositor", "CompositorNodeTree")
        tree.interface.new_socket("Image", in_out="OUTPUT", socket_type="NodeSocketColor")
        scene.compositing_node_group = tree
        return tree, tree.nodes.new("NodeGroupOutput").inputs[0]
    scene.use_nodes = True
    tree = scene.node_tree
    tree.nodes.clear()
    return tree, tree.nodes.new("CompositorNodeComposite").inputs[0]


def remove_compositor(tree: bpy.types.NodeTree) -> None:
    """Remove what `compositor_output` made that outlives its scene (5.0's node group)."""
    if BLENDER_5 and tree.name in bpy.data.node_groups:
        bpy.data.node_groups.remove(tree)


def pose_bone_selected(pose_bone: bpy.types.PoseBone) -> bool:
    """Whether a pose bone is selected: `PoseBone.select` in 5.0, its `Bone.select` in 4.2."""
    return bool(pose_bone.select) if BLENDER_5 else bool(pose_bone.bone.select)
