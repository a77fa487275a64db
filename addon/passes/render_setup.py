"""The temporary render set-ups: one Cycles data render per frame, and an optional Workbench colour render.

Both render a *copy* of the artist's scene (`Scene.copy()` shares the objects
and copies the settings), so the artist's engine, passes, output path, film,
view layers and material override are never touched; the copy is removed
afterwards, also when the export fails or is cancelled.

The data render measures instead of shading: one sample at each pixel's
centre (a 0.01 px box filter), no bounces, no denoising, a constant seed, so
a surface that does not move reads the same value on every frame. All
materials are overridden by one that writes the camera-space normal into a
colour AOV: Cycles' own Normal pass is in world space.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import bpy

from .. import compat

NORMAL_AOV = "CameraNormal"


@contextmanager
def temporary_copy(scene: bpy.types.Scene, name: str) -> Iterator[bpy.types.Scene]:
    """A full-settings copy of `scene` sharing its objects, removed on exit."""
    copy = scene.copy()
    try:
        copy.name = name
        yield copy
    finally:
        bpy.data.scenes.remove(copy)


@contextmanager
def user_frame_restored(scene: bpy.types.Scene) -> Iterator[None]:
    """Re-evaluate the artist's scene at its own frame on exit.

    Evaluating the temporary copy frame by frame writes the evaluated transforms back into the shared
    objects (the camera's matrix_world at the last exported frame, say); evaluating the artist's scene
    at its current frame puts them back as they were.
    """
    frame, subframe = scene.frame_current, scene.frame_subframe
    try:
        yield
    finally:
        scene.frame_set(frame, subframe=subframe)


@contextmanager
def camera_normal_material() -> Iterator[bpy.types.Material]:
    """An override material: camera-space normal into the AOV `NORMAL_AOV`, on an emission surface.

    Vector Transform's camera space is Cycles' (+Z looking into the scene); Blender's camera space, the
    package's convention, has +Z towards the camera, so Z is flipped. The surface must be opaque: a
    material with no surface shader is transparent in Cycles, so every surface behind it would add its
    normal into the AOV and the depth pass would see through it. Emission is opaque and, having no
    BSDF, makes Cycles trace no light or shadow rays (about a third faster than a diffuse surface).
    """
    material = compat.new_node_material("Underpaint Camera Normal")
    try:
        nodes, links = material.node_tree.nodes, material.node_tree.links
        nodes.clear()
        geometry = nodes.new("ShaderNodeNewGeometry")
        transform = nodes.new("ShaderNodeVectorTransform")
        transform.vector_type, transform.convert_from, transform.convert_to = "NORMAL", "WORLD", "CAMERA"
        flip = nodes.new("ShaderNodeVectorMath")
        flip.operation = "MULTIPLY"
        flip.inputs[1].default_value = (1.0, 1.0, -1.0)
        aov = nodes.new("ShaderNodeOutputAOV")
        aov.aov_name = NORMAL_AOV
        output = nodes.new("ShaderNodeOutputMaterial")
        surface = nodes.new("ShaderNodeEmission")
        links.new(geometry.outputs["Normal"], transform.inputs["Vector"])
        links.new(transform.outputs["Vector"], flip.inputs[0])
        links.new(flip.outputs["Vector"], aov.inputs["Color"])
        links.new(surface.outputs["Emission"], output.inputs["Surface"])
        yield material
    finally:
        bpy.data.materials.remove(material)


def _common_output(scene: bpy.types.Scene, view_layer: str, size: tuple[int, int]) -> bpy.types.ViewLayer:
    """Settings both renders share: the size, only our view layer, no compositor, sequencer or border."""
    render = scene.render
    render.resolution_x, render.resolution_y = size
    render.resolution_percentage = 100
    render.use_border = False
    render.use_multiview = False
    render.use_compositing = False
    render.use_sequencer = False
    render.use_freestyle = False
    render.use_motion_blur = False  # Cycles writes no Vector pass with motion blur on
    render.use_single_layer = False  # would render the context's view layer, which belongs to the artist's scene
    _no_metadata(render)
    for layer in scene.view_layers:
        layer.use = layer.name == view_layer
    return scene.view_layers[view_layer]


def _no_metadata(render: bpy.types.RenderSettings) -> None:
    """No date, render time or memory in the file headers: the same blocking must give the same bytes,
    so a re-export uploads only the frames that really changed."""
    for prop in render.bl_rna.properties:
        if prop.identifier.startswith("use_stamp") and not prop.is_readonly:
            setattr(render, prop.identifier, False)


def _only_passes(layer: bpy.types.ViewLayer, wanted: set[str]) -> None:
    """Turn off every pass the artist enabled (cryptomatte, AOVs, light groups...) except `wanted`."""
    for settings in (layer, getattr(layer, "cycles", None)):
        if settings is None:
            continue
        for prop in settings.bl_rna.properties:
            if prop.identifier.startswith("use_pass_") and not prop.is_readonly:
                setattr(settings, prop.identifier, prop.identifier in wanted)
    if hasattr(layer, "cycles"):
        layer.cycles.denoising_store_passes = False
    for aov in list(layer.aovs):
        layer.aovs.remove(aov)
    for group in list(layer.lightgroups):
        layer.lightgroups.remove(group)


def configure_data_render(
    scene: bpy.types.Scene, view_layer: str, size: tuple[int, int], motion: bool, override: bpy.types.Material
) -> None:
    """Cycles, 1 centred sample, depth + object index (+ vector) + the normal AOV, into a float multilayer EXR."""
    layer = _common_output(scene, view_layer, size)
    scene.render.engine = "CYCLES"
    scene.render.use_persistent_data = True  # keep the BVH and shaders between frames
    cycles = scene.cycles
    cycles.samples = 1
    cycles.use_adaptive_sampling = False
    cycles.use_denoising = False
    cycles.max_bounces = 0
    cycles.pixel_filter_type = "BOX"
    cycles.filter_width = 0.01
    cycles.seed = 0
    cycles.use_animated_seed = False
    layer.samples = 0  # no per-layer sample override
    layer.material_override = override
    _only_passes(layer, {"use_pass_combined", "use_pass_z", "use_pass_object_index"}
                 | ({"use_pass_vector"} if motion else set()))
    aov = layer.aovs.add()
    aov.name, aov.type = NORMAL_AOV, "COLOR"
    settings = scene.render.image_settings
    compat.set_image_format(settings, "OPEN_EXR_MULTILAYER")
    settings.color_depth = "32"
    settings.exr_codec = "ZIP"


def configure_color_render(scene: bpy.types.Scene, view_layer: str, size: tuple[int, int]) -> None:
    """Workbench with the solid-mode look (studio light, material colours, no effects), into an 8-bit PNG."""
    _common_output(scene, view_layer, size)
    scene.render.engine = "BLENDER_WORKBENCH"
    scene.render.film_transparent = False
    shading = scene.display.shading
    shading.light = "STUDIO"
    shading.color_type = "MATERIAL"
    shading.show_shadows = False
    shading.show_cavity = False
    shading.show_object_outline = False
    shading.show_specular_highlight = False
    scene.display.render_aa = "8"
    scene.view_settings.view_transform = "Standard"
    scene.view_settings.look = "None"
    scene.view_settings.exposure = 0.0
    scene.view_settings.gamma = 1.0
    scene.view_settings.use_curve_mapping = False
    settings = scene.render.image_settings
    compat.set_image_format(settings, "PNG")
    settings.color_mode = "RGB"
    settings.color_depth = "8"
    settings.compression = 15


def render_to(scene: bpy.types.Scene, path: Path) -> None:
    """Render the scene's current frame and save it to exactly `path` (no '#' frame-number substitution).

    The scene goes in as the context scene: with only the operator's `scene` argument, Blender renders
    that scene's settings but evaluates the animation at the *context* scene's frame (measured in 5.0.1).
    Its own view layer goes in with it: after every operator `bpy.ops` updates the context's view
    layer, and one of another scene (an operator's caller's) beside this scene is a crash.
    """
    layer = next((layer for layer in scene.view_layers if layer.use), scene.view_layers[0])
    with bpy.context.temp_override(scene=scene, view_layer=layer):
        bpy.ops.render.render(write_still=False)
    result = next((image for image in bpy.data.images if image.type == "RENDER_RESULT"), None)
    if result is None:
        raise RuntimeError(f"rendering scene {scene.name!r} produced no render result")
    result.save_render(filepath=str(path), scene=scene)
