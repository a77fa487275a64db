"""What a model set can do, read from the server's `/v1/health`: its controls, sizes and capabilities.

The panel draws one toggle and weight per control of the chosen set and sizes the
generation from the set's native size, so a new control or model set on the server
needs no add-on release. A server that does not say (an older backend) leaves each
missing field at a fallback: the controls the add-on always had (depth, normal, pose),
sizes in multiples of 8, every capability on. No `bpy` here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ControlSpec:
    """One control a model set has: its name in job params, its label, its starting weight."""

    name: str
    label: str
    default_weight: float = 1.0


# The controls before the server listed them, with their weights then (old .blend files hold these).
LEGACY_CONTROLS = (ControlSpec("depth", "Depth", 1.0), ControlSpec("normal", "Normal", 0.7),
                   ControlSpec("pose", "Pose", 1.0))
# Controls switched on when they first appear in a scene; any other waits for the artist to choose it,
# so a control the server adds changes no painting by itself.
ON_AT_FIRST = frozenset({"depth", "pose"})
DEFAULT_SIZE_MULTIPLE = 8


@dataclass(frozen=True)
class ModelSet:
    """A model set as the server describes it; `controls` and `native_size` are None when it does not say."""

    name: str
    available: bool = True
    controls: tuple[ControlSpec, ...] | None = None
    native_size: tuple[int, int] | None = None
    size_multiple: int = DEFAULT_SIZE_MULTIPLE
    capabilities: dict[str, bool] = field(default_factory=dict)
    window: int | None = None  # frames the engine paints at once (None: not said)

    @classmethod
    def from_health(cls, entry: dict[str, Any]) -> ModelSet:
        """Read one entry of health's `models`, tolerating missing or malformed fields."""
        controls = None
        if isinstance(entry.get("controls"), list):
            controls = tuple(
                ControlSpec(str(c["name"]), str(c.get("label") or str(c["name"]).capitalize()),
                            _weight(c.get("default_weight")))
                for c in entry["controls"] if isinstance(c, dict) and c.get("name")
            )
        native = entry.get("native_size")
        native_size = None
        if isinstance(native, list | tuple) and len(native) == 2 and all(isinstance(v, int) and v > 0 for v in native):
            native_size = (int(native[0]), int(native[1]))
        multiple = entry.get("size_multiple")
        capabilities = entry.get("capabilities")
        window = entry.get("window")
        return cls(
            name=str(entry.get("name", "")),
            available=bool(entry.get("available", True)),
            controls=controls,
            native_size=native_size,
            size_multiple=multiple if isinstance(multiple, int) and multiple > 0 else DEFAULT_SIZE_MULTIPLE,
            capabilities={k: bool(v) for k, v in capabilities.items()} if isinstance(capabilities, dict) else {},
            window=window if isinstance(window, int) and not isinstance(window, bool) and window > 0 else None,
        )

    def can(self, capability: str, default: bool = True) -> bool:
        """Whether the set can do this (masks, references, styles, video2video, cache); unknown counts as
        `default`: yes for what every set did before health listed it, no for an opt-in (cache)."""
        return self.capabilities.get(capability, default)

    def auto_size(self, aspect: float) -> tuple[int, int] | None:
        """The size for a camera of this aspect (width / height): the native size's pixel count at that aspect,
        each side rounded to the size multiple. None when the server gave no native size."""
        if self.native_size is None or aspect <= 0:
            return None
        area = self.native_size[0] * self.native_size[1]
        step = self.size_multiple
        width = max(step, round(math.sqrt(area * aspect) / step) * step)
        height = max(step, round(math.sqrt(area / aspect) / step) * step)
        return width, height


def _weight(value: Any) -> float:
    """A control's default weight as sent; anything but a number is the neutral 1.0."""
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 1.0


def can(model_set: ModelSet | None, capability: str, default: bool = True) -> bool:
    """Whether the chosen set can do this; a set the server has not described (yet) counts as `default`
    (not held back, unless the capability is an opt-in the server must offer)."""
    return default if model_set is None else model_set.can(capability, default)


def find(models: list[dict[str, Any]], name: str) -> ModelSet | None:
    """The entry of `name` among health's `models`, or None when the server does not list it."""
    for entry in models:
        if isinstance(entry, dict) and str(entry.get("name")) == name:
            return ModelSet.from_health(entry)
    return None
