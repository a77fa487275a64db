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


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` grown to every pixel within `pixels` (Euclidean) of it, so a repaint covers a margin around it."""
    inside = mask > 0.5
    if pixels <= 0 or not inside.any():
        return inside.astype(np.float32)
    distance = cv2.distanceTransform((~inside).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return (distance <= pixels).astype(np.float32)


def feathered_alpha(mask: np.ndarray, feather: int) -> np.ndarray:
    """float32 (H, W): 0 outside the mask, rising inside it to 1 at `feather` + 1 pixels from its edge.

    The ramp is the distance to the nearest pixel outside the mask, so the
    edge pixels of the mask already take a little of the painting and the
    pixels just outside take none.
    """
    inside = mask > 0.5
    if feather <= 0 or inside.all():
        return inside.astype(np.float32)
    distance = cv2.distanceTransform(inside.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return np.where(inside, np.minimum(1.0, distance / (feather + 1)), 0.0).astype(np.float32)


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
