"""Physical passes -> control images. Every convention a model cares about lives here, once.

- depth: inverse depth, one near/far range for the whole shot (`depth`)
- normal: camera-space normals in the ControlNet normalbae colours (`normal`)
- pose: OpenPose-18 skeletons drawn by controlnet_aux (`pose`)
- masks: from object names via the object index pass (`masks`)
- resize: aspect-keeping crop/letterbox to the generation size (`resize`)
- registry: the controls, defined once (`registry`)
- build: all of it for a frame range of a shot package (`build`)
"""

from .build import (
    ControlSet,
    check_control_kinds,
    color_video,
    make_controls,
    object_masks,
    shot_depth_range,
)
from .depth import DepthRange, depth_image, depth_range
from .masks import object_indices, objects_mask
from .normal import normal_image
from .pose import pose_image
from .registry import CONTROLS, Control
from .resize import ResizePlan, default_size, to_uint8

__all__ = [
    "CONTROLS",
    "Control",
    "ControlSet",
    "DepthRange",
    "ResizePlan",
    "check_control_kinds",
    "color_video",
    "default_size",
    "depth_image",
    "depth_range",
    "make_controls",
    "normal_image",
    "object_indices",
    "object_masks",
    "objects_mask",
    "pose_image",
    "shot_depth_range",
    "to_uint8",
]
