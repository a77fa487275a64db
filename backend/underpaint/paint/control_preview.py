"""What the model will see: one control image of one frame, exactly as a stylize job would draw it.

The add-on's Show Controls loads these as image sequences through the camera, so the artist
checks the depth, pose or edges the painting will follow before painting. Same size rule, same
fit, and the same shot-wide depth range as a job (computed once per shot: it reads every frame).
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from underpaint.control import ResizePlan, make_controls
from underpaint.control.build import shot_depth_range
from underpaint.control.registry import CONTROLS
from underpaint.errors import InputError, NotFound
from underpaint.paint.stylize import frame_range, generation_size
from underpaint.shot.cache import ShotPackages
from underpaint.shot.package import ShotPackage


def control_frame(
    packages: ShotPackages,
    package: ShotPackage,
    control: str,
    frame: int,
    width: int | None = None,
    height: int | None = None,
    fit: Literal["crop", "letterbox"] = "crop",
) -> np.ndarray:
    """Control `control` of Blender frame `frame` at the generation size, uint8 RGB (H, W, 3)."""
    if control not in CONTROLS:
        raise NotFound("unknown_control", f"no control {control!r}; the controls are {', '.join(CONTROLS)}")
    try:
        frame_range(package, (frame, frame))
    except InputError as exc:
        raise NotFound(exc.code, exc.message) from exc
    plan = ResizePlan.fit(package.size, generation_size(package, width, height), fit)
    depth_range = None
    if CONTROLS[control].shot_range:
        depth_range = packages.derived(package, "depth_range", shot_depth_range)
    return make_controls(package, [frame], plan, [control], shot_range=depth_range).images[control][0]
