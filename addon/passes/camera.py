"""The scene camera at one frame: its shot.json record, and projecting points the way the render does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np


def gather_camera(camera: bpy.types.Object) -> dict[str, Any]:
    """The `Camera` record of one frame, from the evaluated camera object."""
    data = camera.data
    return {
        "matrix_world": [list(row) for row in camera.matrix_world],
        "type": data.type,
        "lens_mm": data.lens,
        "sensor_width_mm": data.sensor_width,
        "sensor_height_mm": data.sensor_height,
        "sensor_fit": data.sensor_fit,
        "shift_x": data.shift_x,
        "shift_y": data.shift_y,
        "ortho_scale": data.ortho_scale,
        "clip_start": data.clip_start,
        "clip_end": data.clip_end,
    }


@dataclass(frozen=True)
class Projection:
    """World points -> normalised image coordinates (x right, y down from the top-left) and planar view depth.

    Built from Blender's own camera matrix for the render size, so sensor fit, shift, orthographic
    cameras and non-square pixels come out as the render draws them.
    """

    world_to_view: np.ndarray  # 4x4
    view_to_clip: np.ndarray  # 4x4
    width: int
    height: int
    clip_start: float
    clip_end: float

    @classmethod
    def of(cls, camera: bpy.types.Object, depsgraph: bpy.types.Depsgraph, scene: bpy.types.Scene) -> Projection:
        render = scene.render
        width, height = render.resolution_x, render.resolution_y
        clip = camera.calc_matrix_camera(
            depsgraph, x=width, y=height, scale_x=render.pixel_aspect_x, scale_y=render.pixel_aspect_y
        )
        return cls(np.array(camera.matrix_world.inverted()), np.array(clip), width, height,
                   camera.data.clip_start, camera.data.clip_end)

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, 3) world points -> ((N, 2) image coordinates, (N,) depth; negative depth = behind the camera)."""
        homogeneous = np.concatenate([points, np.ones((len(points), 1))], axis=1)
        view = homogeneous @ self.world_to_view.T
        clip = view @ self.view_to_clip.T
        w = np.where(np.abs(clip[:, 3]) > 1e-12, clip[:, 3], 1e-12)
        x = (clip[:, 0] / w + 1.0) * 0.5
        y = (1.0 - clip[:, 1] / w) * 0.5
        return np.stack([x, y], axis=1), -view[:, 2]
