"""OpenPose-18 keypoints of each armature, seen through the scene camera, checked against the rendered depth.

A joint is a bone's head (or tail) as the pose places it at that frame. It is
visible unless it is unmapped, behind the camera (or nearer than its clip
start), outside the frame (or beyond the clip end), or hidden: the rendered
surface at its pixel is nearer than the joint by more than `OCCLUSION_MARGIN`
of its depth, and that surface belongs to something other than the character
itself (a joint is always inside its own body, and OpenPose draws those).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import bpy
import numpy as np

from .bone_maps import OPENPOSE_KEYPOINTS, RigMap, apply_overrides, detect_rig, split_reference
from .camera import Projection

OCCLUSION_MARGIN = 0.02
# Joint name -> (x, y, depth): normalised image coordinates (y down) and planar view depth.
Joints = dict[str, tuple[float, float, float]]
# The per-armature joint overrides (`Object.underpaint_pose.joints`), registered by the add-on's UI.
OVERRIDE_PROPERTY = "underpaint_pose"


@dataclass(frozen=True)
class RenderedSurface:
    """What the data render saw at each pixel: planar depth and object index, row 0 at the top."""

    depth: np.ndarray
    object_index: np.ndarray


def armature_rig(armature: bpy.types.Object) -> RigMap | None:
    """The armature's joint map: the detected convention with the artist's overrides on top (None: no body)."""
    bone_names = set(armature.data.bones.keys())
    settings = getattr(armature, OVERRIDE_PROPERTY, None)
    overrides = {
        item.joint: f"{item.bone}:tail" if item.bone and item.use_tail else item.bone for item in settings.joints
    } if settings is not None else {}
    return apply_overrides(armature.name, bone_names, detect_rig(bone_names), overrides)


def joint_positions(armature: bpy.types.Object, rig: RigMap) -> dict[str, np.ndarray]:
    """World position of every mapped joint, from the evaluated pose."""
    matrix = np.array(armature.matrix_world)
    positions = {}
    for joint, reference in rig.bone_map.items():
        bone, tail = split_reference(reference)
        pose_bone = armature.pose.bones[bone]
        local = pose_bone.tail if tail else pose_bone.head
        positions[joint] = (matrix @ np.array([*local, 1.0]))[:3]
    return positions


def project_joints(armature: bpy.types.Object, rig: RigMap, projection: Projection) -> Joints:
    """Each mapped joint as (x, y, depth): normalised image coordinates (y down) and planar view depth."""
    positions = joint_positions(armature, rig)
    mapped = [joint for joint in OPENPOSE_KEYPOINTS if joint in positions]
    if not mapped:
        return {}
    xy, depth = projection.project(np.array([positions[joint] for joint in mapped]))
    return {joint: (float(xy[i, 0]), float(xy[i, 1]), float(depth[i])) for i, joint in enumerate(mapped)}


def _pixel(x: float, y: float, projection: Projection) -> tuple[int, int] | None:
    """(row, column) of the pixel under a normalised image point, or None outside the frame."""
    if not (0.0 <= x < 1.0 and 0.0 <= y < 1.0):
        return None
    return min(int(y * projection.height), projection.height - 1), min(int(x * projection.width), projection.width - 1)


def pixel_rows(joints: Iterable[Joints], projection: Projection) -> set[int]:
    """The image rows the visibility test will look at (only those need to be read back)."""
    pixels = (_pixel(x, y, projection) for joint_set in joints for x, y, _depth in joint_set.values())
    return {pixel[0] for pixel in pixels if pixel is not None}


def _visibility(
    x: float, y: float, depth: float, projection: Projection, surface: RenderedSurface, own: set[int]
) -> str:
    if depth < projection.clip_start:
        return "behind_camera"
    pixel = _pixel(x, y, projection)
    if depth > projection.clip_end or pixel is None:
        return "outside_frame"
    index = int(round(float(surface.object_index[pixel])))
    if index not in own and surface.depth[pixel] < depth * (1.0 - OCCLUSION_MARGIN):
        return "occluded"
    return "visible"


def gather_armature_pose(
    name: str, joints: Joints, projection: Projection, surface: RenderedSurface, own: set[int]
) -> dict[str, Any]:
    """The `ArmaturePose` record of one armature at one frame (keypoints in OpenPose order)."""
    keypoints = []
    for joint in OPENPOSE_KEYPOINTS:
        if joint not in joints:
            keypoints.append({"x": 0.0, "y": 0.0, "depth": 0.0, "visible": False, "reason": "unmapped"})
            continue
        x, y, depth = joints[joint]
        reason = _visibility(x, y, depth, projection, surface, own)
        if reason == "behind_camera":  # the projection of a point behind the camera is meaningless
            x, y = 0.0, 0.0
        keypoints.append({"x": x, "y": y, "depth": depth, "visible": reason == "visible", "reason": reason})
    return {"name": name, "keypoints": keypoints}
