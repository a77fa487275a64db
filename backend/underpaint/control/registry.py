"""The controls, defined once: what each is called, what it is drawn from, and how strongly it steers.

Everything that lists controls derives from `CONTROLS`: job-param checks, the
CLI's choices, the model sets' declarations (a set names a model per control),
and `/v1/health`, from which the add-on draws one toggle and weight per
control. Adding a control is one converter in this package, one entry here,
and one line per model set that has a model for it.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal

from underpaint.errors import InputError

# The shot-package measurement a control is drawn from.
Measurement = Literal["depth", "normal", "pose"]


@dataclass(frozen=True)
class Control:
    """One control: its name in the user's words, its source measurement and its default weight."""

    name: str
    label: str
    measurement: Measurement
    default_weight: float
    description: str


CONTROLS: dict[str, Control] = {
    control.name: control
    for control in (
        Control("depth", "Depth", "depth", 1.0, "inverse depth, one near/far range for the whole shot"),
        Control("normal", "Normal", "normal", 0.7, "camera-space normals in the ControlNet normalbae colours"),
        Control("pose", "Pose", "pose", 1.0, "OpenPose-18 skeletons of the rigs, drawn as controlnet_aux draws them"),
        Control("edges", "Edges", "depth", 0.8, "silhouettes and creases from depth and normal discontinuities"),
    )
}


def get_control(name: str) -> Control:
    """The control called `name`; an unknown name is an InputError listing the known ones."""
    try:
        return CONTROLS[name]
    except KeyError:
        raise InputError(
            "unknown_control", f"unknown control {name!r}; controls are {', '.join(CONTROLS)}"
        ) from None


def check_names(names: Collection[str]) -> None:
    """Refuse the first unknown control name among `names`."""
    for name in names:
        get_control(name)
