"""The controls, defined once: what each is called, what it is drawn from, and how strongly it steers.

Everything that lists controls derives from `CONTROLS`: the shot-package
checks and converters (`build`), the engines' list of control types (and so
the model sets' `controlnets` tables and the tiny builder), and the CLI's
`--controls` help.
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
    """One control: its name in the user's words and the measurement it is drawn from."""

    name: str
    measurement: Measurement


CONTROLS: dict[str, Control] = {
    control.name: control
    for control in (Control("depth", "depth"), Control("normal", "normal"), Control("pose", "pose"))
}


def check_names(names: Collection[str]) -> None:
    """Refuse the first unknown control name among `names`, listing the known ones."""
    for name in names:
        if name not in CONTROLS:
            raise InputError("invalid_params", f"unknown control {name!r}; controls are {', '.join(CONTROLS)}")
