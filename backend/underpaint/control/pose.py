"""Pose control images: OpenPose-18 skeletons drawn by `controlnet_aux` itself.

The ControlNet openpose model learned one drawing (joint order, limb table,
colours, stick width). Re-implementing it invites a one-pixel or one-colour
drift the model would read as a different pose, so the skeleton is drawn by
`controlnet_aux.open_pose.util.draw_bodypose`, the code that made the
training images. Keypoints come from the armature (pose.json), are mapped
through the resize plan, and are drawn at the generation size directly so
limbs stay crisp. Joints that are not visible are left out, as a detector
would not have found them.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from underpaint.shot.models import ArmaturePose, Keypoint, PoseFile

from .resize import ResizePlan


def _bodypose_drawing() -> tuple[Any, Any]:
    """controlnet_aux's drawing function and keypoint type (imported on first use: the package is slow to load)."""
    with warnings.catch_warnings():  # the package warns about optional detectors we never use
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.body import Keypoint as AuxKeypoint
        from controlnet_aux.open_pose.util import draw_bodypose

    return draw_bodypose, AuxKeypoint


def pose_image(armatures: Sequence[Sequence[Keypoint]], plan: ResizePlan) -> np.ndarray:
    """uint8 (H, W, 3) at `plan.size`: every armature's skeleton on black, in the order given."""
    draw_bodypose, aux_keypoint = _bodypose_drawing()
    width, height = plan.size
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    for keypoints in armatures:
        mapped = [
            aux_keypoint(*plan.map_point(k.x, k.y)) if k.visible else None
            for k in keypoints
        ]
        canvas = draw_bodypose(canvas, mapped)
    return canvas


def poses_by_frame(pose: PoseFile | None) -> dict[int, list[ArmaturePose]]:
    """pose.json indexed by Blender frame number (frames without an entry have no skeleton)."""
    if pose is None:
        return {}
    return {f.frame: list(f.armatures) for f in pose.frames}
