"""The OpenPose skeleton drawn over the depth image: one control video carrying both.

Wan VACE takes a single control video, so a shot that wants the camera's depth
and the characters' poses gets both in one picture: the skeleton's pixels
(drawn on black, as `controlnet_aux`'s `draw_bodypose` draws them) replace the
depth image's pixels where they are drawn, and depth shows everywhere else.
"""

from __future__ import annotations

import numpy as np

# A pose pixel counts as drawn above this channel value. The skeleton's colours are saturated
# (limbs are blended at 60 %, so their brightest channel is at least ~150) and the canvas is black,
# so any threshold well between the two keeps anti-aliasing or compression specks out of the depth.
POSE_DRAWN_THRESHOLD = 32


def pose_drawn(pose: np.ndarray) -> np.ndarray:
    """Boolean `(..., height, width)`: where the pose image has skeleton drawn on it."""
    return pose.max(axis=-1) > POSE_DRAWN_THRESHOLD


def pose_over_depth(depth: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """uint8 RGB frames: the pose skeleton's pixels over the depth image.

    Both are uint8 RGB of the same shape, one frame `(h, w, 3)` or a video `(n, h, w, 3)`.
    """
    if depth.shape != pose.shape:
        raise ValueError(f"depth {depth.shape} and pose {pose.shape} control images differ in shape")
    if depth.dtype != np.uint8 or pose.dtype != np.uint8:
        raise ValueError(f"control images must be uint8 RGB, got depth {depth.dtype} and pose {pose.dtype}")
    if depth.shape[-1] != 3:
        raise ValueError(f"control images must be RGB (last axis 3), got shape {depth.shape}")
    return np.where(pose_drawn(pose)[..., None], pose, depth)
