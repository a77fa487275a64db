"""Fit a shot's frames to the generation size without distorting them.

Two policies, both keeping the aspect ratio:

- `crop` (default): scale until the frame covers the generation size, then
  cut the overflow equally from both sides; nothing is padded.
- `letterbox`: scale until the frame fits inside, then pad the rest with a
  fill value (black for depth, pose, masks and colour).

The plan is computed once per take and stored in its metadata, and the same
plan maps pose keypoints, so skeletons stay on the bodies they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import cv2
import numpy as np

from underpaint.errors import InputError

Policy = Literal["crop", "letterbox"]
POLICIES: tuple[str, ...] = ("crop", "letterbox")


@dataclass(frozen=True)
class ResizePlan:
    """Source pixels `source_box` are scaled onto generation pixels `target_box` (x0, y0, x1, y1)."""

    policy: Policy
    source_size: tuple[int, int]
    size: tuple[int, int]
    source_box: tuple[int, int, int, int]
    target_box: tuple[int, int, int, int]

    @classmethod
    def fit(cls, source_size: tuple[int, int], size: tuple[int, int], policy: Policy = "crop") -> ResizePlan:
        (sw, sh), (tw, th) = source_size, size
        if policy not in POLICIES:
            raise InputError("invalid_params", f"unknown resize policy {policy!r}; use one of {POLICIES}")
        if policy == "crop":
            scale = max(tw / sw, th / sh)
            bw, bh = min(sw, max(1, round(tw / scale))), min(sh, max(1, round(th / scale)))
            x0, y0 = (sw - bw) // 2, (sh - bh) // 2
            return cls(policy, source_size, size, (x0, y0, x0 + bw, y0 + bh), (0, 0, tw, th))
        scale = min(tw / sw, th / sh)
        iw, ih = min(tw, max(1, round(sw * scale))), min(th, max(1, round(sh * scale)))
        x0, y0 = (tw - iw) // 2, (th - ih) // 2
        return cls(policy, source_size, size, (0, 0, sw, sh), (x0, y0, x0 + iw, y0 + ih))

    def apply(self, image: np.ndarray, fill: float | tuple[float, ...] = 0.0) -> np.ndarray:
        """Resample a float32 (H, W) or (H, W, C) image from the source size to the generation size."""
        sx0, sy0, sx1, sy1 = self.source_box
        tx0, ty0, tx1, ty1 = self.target_box
        crop: np.ndarray = np.ascontiguousarray(image[sy0:sy1, sx0:sx1], dtype=np.float32)
        inner = (tx1 - tx0, ty1 - ty0)
        if crop.shape[1::-1] != inner:
            shrinking = inner[0] < crop.shape[1] or inner[1] < crop.shape[0]
            crop = cv2.resize(crop, inner, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)
            crop = crop.reshape(inner[1], inner[0], *image.shape[2:])
        if self.target_box == (0, 0, *self.size):
            return crop
        out = np.empty((self.size[1], self.size[0], *image.shape[2:]), dtype=np.float32)
        out[...] = fill
        out[ty0:ty1, tx0:tx1] = crop
        return out

    def map_point(self, x: float, y: float) -> tuple[float, float]:
        """Normalised source image coordinates -> normalised generation image coordinates."""
        sx0, sy0, sx1, sy1 = self.source_box
        tx0, ty0, tx1, ty1 = self.target_box
        px = (x * self.source_size[0] - sx0) * (tx1 - tx0) / (sx1 - sx0) + tx0
        py = (y * self.source_size[1] - sy0) * (ty1 - ty0) / (sy1 - sy0) + ty0
        return px / self.size[0], py / self.size[1]

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ResizePlan:
        """The plan a take recorded (`control.resize_plan`), so an edit of the take resizes identically."""
        return cls(
            policy=data["policy"],
            source_size=(int(data["source_size"][0]), int(data["source_size"][1])),
            size=(int(data["size"][0]), int(data["size"][1])),
            source_box=tuple(int(v) for v in data["source_box"]),  # type: ignore[arg-type]
            target_box=tuple(int(v) for v in data["target_box"]),  # type: ignore[arg-type]
        )

    def to_json(self) -> dict[str, object]:
        return {
            "policy": self.policy,
            "source_size": list(self.source_size),
            "size": list(self.size),
            "source_box": list(self.source_box),
            "target_box": list(self.target_box),
        }

    def describe(self) -> str:
        """One line for the take metadata: what was scaled onto what."""
        (sw, sh), (tw, th) = self.source_size, self.size
        if self.policy == "crop":
            return f"crop: {sw}x{sh} source region {list(self.source_box)} scaled to fill {tw}x{th}"
        return f"letterbox: {sw}x{sh} scaled into {list(self.target_box)} of {tw}x{th}, black padding"


def default_size(source_size: tuple[int, int], long_side: int = 512) -> tuple[int, int]:
    """The generation size with the shot's aspect: the long side `long_side`, both multiples of 8."""
    sw, sh = source_size
    scale = long_side / max(sw, sh)
    return max(8, round(sw * scale / 8) * 8), max(8, round(sh * scale / 8) * 8)


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 with rounding (so 0.5 is 128 and 1.0 is 255 exactly)."""
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
