"""The controls, defined once: name, label, the measurement each is drawn from, its converter, its weight.

Everything that lists controls derives from `CONTROLS`: the shot-package
checks and `make_controls` (`build`), job-param validation, the engines'
control types (and so the model sets' `controlnets` tables and the tiny
builder), the CLI's `--controls` and `/v1/health`. Adding a control is a
converter and one entry here (plus, per model set, the model that reads it).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from underpaint.errors import InputError
from underpaint.shot.models import Keypoint
from underpaint.shot.package import FramePasses

from .depth import DepthRange, depth_image
from .edges import edge_lines, edges_image
from .normal import BACKGROUND, normal_image
from .pose import pose_image
from .resize import ResizePlan, to_uint8

# The shot-package measurement a control is drawn from.
Measurement = Literal["depth", "normal", "pose"]


@dataclass(frozen=True)
class FrameInputs:
    """What one frame offers a converter: its passes and skeletons at the shot's resolution, the shot's
    depth range and background threshold, and the resize to the generation size."""

    passes: FramePasses | None  # None when no requested control reads the EXR passes
    poses: Sequence[Sequence[Keypoint]]
    depth_range: DepthRange | None  # set when a requested control uses the shot's depth range
    background: float
    plan: ResizePlan


# One frame's control image: uint8 (H, W, 3) at the generation size.
Converter = Callable[[FrameInputs], np.ndarray]


@dataclass(frozen=True)
class Control:
    """One control: its name in job params, its label in the panel, the measurement it is drawn from,
    how it is drawn, and the weight it starts at."""

    name: str
    label: str
    measurement: Measurement
    draw: Converter
    default_weight: float = 1.0
    # Whether `draw` needs the depth range of the whole shot (so every frame sees the same picture).
    shot_range: bool = False

    @property
    def reads_passes(self) -> bool:
        return self.measurement != "pose"


def _passes(inputs: FrameInputs) -> FramePasses:
    assert inputs.passes is not None  # make_controls decodes the passes for every control that reads them
    return inputs.passes


def _depth(inputs: FrameInputs) -> np.ndarray:
    assert inputs.depth_range is not None  # the depth control asks for the shot's range
    image = depth_image(_passes(inputs).depth, inputs.depth_range, inputs.background)
    return np.repeat(to_uint8(inputs.plan.apply(image))[..., None], 3, axis=-1)


def _normal(inputs: FrameInputs) -> np.ndarray:
    normal = _passes(inputs).normal
    assert normal is not None  # check_control_kinds refused a shot without the pass
    return to_uint8(inputs.plan.apply(normal_image(normal), fill=BACKGROUND))


def _pose(inputs: FrameInputs) -> np.ndarray:
    return pose_image(inputs.poses, inputs.plan)


def _edges(inputs: FrameInputs) -> np.ndarray:
    passes = _passes(inputs)
    return edges_image(edge_lines(passes.depth, passes.normal, inputs.background), inputs.plan)


CONTROLS: dict[str, Control] = {
    control.name: control
    for control in (
        Control("depth", "Depth", "depth", _depth, 1.0, shot_range=True),
        Control("normal", "Normal", "normal", _normal, 0.7),
        Control("pose", "Pose", "pose", _pose, 1.0),
        Control("edges", "Edges", "depth", _edges, 0.8),
    )
}


def check_names(names: Collection[str]) -> None:
    """Refuse the first unknown control name among `names`, listing the known ones."""
    for name in names:
        if name not in CONTROLS:
            raise InputError("invalid_params", f"unknown control {name!r}; controls are {', '.join(CONTROLS)}")
