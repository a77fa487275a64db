"""Where Refine Region repaints, drawn or rigged in Blender: one grey PNG per frame (white = repaint).

Two sources besides the selected objects (which the server masks from the object index pass):

- a **Mask** datablock, drawn and animated in the Image or Movie Clip editor: Blender's
  compositor rasterizes it, feather included, through a temporary scene with a Mask node. The
  frame is set on the *active* scene before each frame's render (a render of the temporary
  scene alone evaluates the mask's animation at a stale frame).
- the selected **pose bones**: a capsule around each bone, head to tail, of radius
  `BONE_RADIUS` times the bone's length, projected through the camera at every frame, so the
  mask follows the hand wherever the rig moves it.

The frames are written at the shot's export size (resolution x percentage), as the passes
are: the server fits them to the take exactly as it fits the passes, and grows them by the
panel's Mask Grow. Grey is a blend weight, so a drawn feather feathers.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from pathlib import Path

import bpy
import numpy as np

from .. import compat
from ..files import frame_path
from .camera import Projection

# A bone's capsule radius as a share of its length (a hand bone of 10 cm: a capsule 8 cm across).
BONE_RADIUS = 0.4


class MaskError(ValueError):
    """A mask that would refine nothing (an empty Mask, bones off-screen): said before anything is sent."""


def export_size(scene: bpy.types.Scene) -> tuple[int, int]:
    """The shot's export size, which the masks are drawn at."""
    render = scene.render
    return (render.resolution_x * render.resolution_percentage // 100,
            render.resolution_y * render.resolution_percentage // 100)


def write_png(path: Path, pixels: np.ndarray) -> Path:
    """An 8-bit PNG of `pixels` (rows top to bottom, 0..1): greyscale for (H, W), RGBA for (H, W, 4); zlib alone."""
    values = np.clip(np.round(pixels * 255.0), 0, 255).astype(np.uint8)
    height, width = values.shape[:2]
    colour_type = 0 if values.ndim == 2 else 6
    rows = values.reshape(height, -1)
    raw = np.concatenate([np.zeros((height, 1), np.uint8), rows], axis=1).tobytes()  # filter byte 0 per row

    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6))
                     + chunk(b"IEND", b""))
    return path


def _clear(folder: Path) -> None:
    """The folder empty of an earlier refine's masks."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.png"):
        stale.unlink()


def overlay(mask: Path, out: Path, colour: tuple[float, float, float] = (1.0, 0.2, 0.1)) -> Path:
    """A mask frame as a see-through colour layer (alpha = half the mask), for the camera's background images."""
    image = bpy.data.images.load(str(mask), check_existing=False)
    try:
        width, height = image.size
        pixels = np.empty(width * height * 4, np.float32)
        image.pixels.foreach_get(pixels)
    finally:
        bpy.data.images.remove(image)
    weight = np.flipud(pixels.reshape(height, width, 4)[..., 0])  # Blender's rows go bottom up
    rgba = np.empty((height, width, 4), np.float32)
    rgba[..., :3] = colour
    rgba[..., 3] = 0.5 * weight
    return write_png(out, rgba)


# -- a Mask datablock ------------------------------------------------------------------------------

def mask_frames(scene: bpy.types.Scene, mask: bpy.types.Mask, frames: Iterable[int], folder: Path) -> dict[int, Path]:
    """Rasterize `mask` at each frame into `folder/####.png`; the frames it covers (raises MaskError if none)."""
    width, height = export_size(scene)
    _clear(folder)
    raster = bpy.data.scenes.new(f"underpaint mask {mask.name}")
    tree = None
    current = scene.frame_current
    written: dict[int, Path] = {}
    try:
        raster.render.resolution_x, raster.render.resolution_y = width, height
        raster.render.resolution_percentage = 100
        raster.render.engine = "BLENDER_WORKBENCH"
        raster.render.use_compositing = True
        raster.view_settings.view_transform = "Raw"  # the mask's values as they are, no display curve
        raster.render.dither_intensity = 0.0  # dither noise would be a faint repaint weight all over the frame
        settings = raster.render.image_settings
        compat.set_image_format(settings, "PNG")
        settings.color_mode, settings.color_depth = "BW", "8"
        tree, output = compat.compositor_output(raster)
        node = tree.nodes.new("CompositorNodeMask")
        node.mask = mask
        tree.links.new(node.outputs[0], output)
        pixels = np.empty(width * height * 4, np.float32)
        for frame in frames:
            scene.frame_set(frame)  # the active scene's frame is the one the mask's animation is evaluated at
            raster.frame_current = frame
            path = frame_path(folder, frame)
            with bpy.context.temp_override(scene=raster, view_layer=raster.view_layers[0]):  # see render_to
                bpy.ops.render.render(write_still=False)
            result = next(image for image in bpy.data.images if image.type == "RENDER_RESULT")
            result.save_render(filepath=str(path), scene=raster)
            image = bpy.data.images.load(str(path), check_existing=False)
            try:
                image.pixels.foreach_get(pixels)
            finally:
                bpy.data.images.remove(image)
            if pixels.reshape(-1, 4)[:, 0].max() > 0.5 / 255.0:
                written[frame] = path
            else:
                path.unlink()
    finally:
        scene.frame_set(current)
        bpy.data.scenes.remove(raster)
        if tree is not None:
            compat.remove_compositor(tree)
    if not written:
        raise MaskError(f"The mask {mask.name!r} covers nothing on the refined frames: draw a shape with the "
                        "Mask editor (Image or Movie Clip editor, Mask mode), keyed on these frames.")
    return written


# -- selected pose bones ---------------------------------------------------------------------------

def selected_bones(armature: bpy.types.Object) -> list[str]:
    """The names of the armature's selected pose bones."""
    return [bone.name for bone in armature.pose.bones if compat.pose_bone_selected(bone)]


def capsule(size: tuple[int, int], head: np.ndarray, tail: np.ndarray, radius: float) -> np.ndarray:
    """Coverage 0..1 of a capsule of `radius` pixels around the segment head..tail (pixel x, y), one
    pixel of soft edge."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32) + 0.5
    along = tail - head
    length2 = float(along @ along)
    t = np.zeros_like(xs) if length2 < 1e-12 else np.clip(((xs - head[0]) * along[0] + (ys - head[1]) * along[1])
                                                          / length2, 0.0, 1.0)
    distance = np.hypot(xs - (head[0] + t * along[0]), ys - (head[1] + t * along[1]))
    return np.clip(radius - distance + 0.5, 0.0, 1.0)


def bone_frames(
    scene: bpy.types.Scene, armature: bpy.types.Object, bones: list[str], frames: Iterable[int], folder: Path
) -> dict[int, Path]:
    """The capsules of `bones` projected through the scene camera at each frame, into `folder/####.png`;
    the frames where any is in view (raises MaskError if none)."""
    if scene.camera is None:
        raise MaskError("The scene has no camera to project the bones through.")
    size = export_size(scene)
    _clear(folder)
    current = scene.frame_current
    written: dict[int, Path] = {}
    try:
        for frame in frames:
            scene.frame_set(frame)
            depsgraph = bpy.context.evaluated_depsgraph_get()
            projection = Projection.of(scene.camera, depsgraph, scene)
            up = np.array(scene.camera.matrix_world.to_3x3().col[1])  # the camera's up axis in the world
            matrix = np.array(armature.matrix_world)
            coverage = np.zeros((size[1], size[0]), np.float32)
            for name in bones:
                pose_bone = armature.pose.bones[name]
                head = (matrix @ np.array([*pose_bone.head, 1.0]))[:3]
                tail = (matrix @ np.array([*pose_bone.tail, 1.0]))[:3]
                radius = BONE_RADIUS * float(np.linalg.norm(tail - head))
                points = np.array([head, tail, head + radius * up, tail + radius * up])
                xy, depth = projection.project(points)
                if (depth[:2] <= 0).any():
                    continue  # behind the camera
                pixels = xy * np.array(size, np.float64)
                radius_px = max(float(np.linalg.norm(pixels[2] - pixels[0])), float(np.linalg.norm(pixels[3] - pixels[1])))
                coverage = np.maximum(coverage, capsule(size, pixels[0], pixels[1], radius_px))
            if coverage.max() > 0.5 / 255.0:
                written[frame] = write_png(frame_path(folder, frame), coverage)
    finally:
        scene.frame_set(current)
    if not written:
        raise MaskError(f"The selected bones ({', '.join(bones)}) are outside the camera's view on every refined "
                        "frame: select bones that are in the shot.")
    return written
