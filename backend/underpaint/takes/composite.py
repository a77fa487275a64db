"""The final pixel composite of an edit: outside the region, the parent take exactly.

"Fix this part only" is a promise about bits, so it is kept here in pixels
rather than hoped for from the model (whose VAE never reproduces a frame
exactly):

- a frame the edit does not touch is the parent's PNG file, copied byte for
  byte — never decoded and encoded again;
- in an edited frame every pixel outside the repaint mask is the parent's
  value exactly; the painted pixels blend in over a feathered edge that lies
  INSIDE the mask, so nothing outside it moves. PNG is lossless, so writing
  the composite keeps those values.

Masks are binary float32 (H, W) at the take's size, 1 = repaint.
"""

from __future__ import annotations

import cv2
import numpy as np

from .store import TakeStore


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return (offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius).astype(np.uint8)


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` grown by `pixels` (a Euclidean disc), so a repaint covers a margin around it.

    Grey values (a drawn feather) grow as they are: each pixel takes the
    strongest weight within `pixels` of it, so a hard mask grows into a hard
    mask and a soft edge moves outward keeping its ramp.
    """
    mask = np.clip(mask.astype(np.float32), 0.0, 1.0)
    if pixels <= 0 or not mask.any():
        return mask
    return cv2.dilate(mask, _disc(pixels))


def feathered_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """float32 (H, W): the mask's own weight, ramped to 0 over `feather` + 1 pixels inside its edge.

    Grey in the mask is a blend weight (white = repaint, black = keep), so a
    feather drawn in Blender feathers. The ramp is the distance to the nearest
    pixel where the mask is 0, so the mask's edge pixels already take a
    little of the painting and the pixels outside take none: wherever the
    mask is 0, alpha is exactly 0.
    """
    mask = np.clip(mask.astype(np.float32), 0.0, 1.0)
    inside = mask > 0
    if feather <= 0 or inside.all():
        return mask
    distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(inside, mask * np.minimum(1.0, distance / (feather + 1)), 0.0).astype(np.float32)


def composite(parent: np.ndarray, painted: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3): `painted` over `parent` by `alpha`; wherever alpha is 0, the parent's pixel itself."""
    if parent.shape != painted.shape or parent.shape[:2] != alpha.shape:
        raise ValueError(f"composite of {painted.shape} over {parent.shape} with alpha {alpha.shape}")
    weight = alpha[..., None]
    mixed = np.rint(parent.astype(np.float32) * (1 - weight) + painted.astype(np.float32) * weight)
    return np.where(weight > 0, np.clip(mixed, 0, 255), parent).astype(np.uint8)


def copy_frame(takes: TakeStore, parent_id: str, take_id: str, frame: int) -> None:
    """Give take `take_id` the parent's frame: the same PNG bytes, not a re-encoding."""
    takes.write_frame_png(take_id, frame, takes.frame_path(parent_id, frame).read_bytes())
