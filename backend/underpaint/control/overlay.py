"""Controls layered into one control video, for engines that take one (Wan VACE).

A shot that wants the camera's depth, the blocking's lines and the
characters' poses gets them in one picture: a layer drawn on black (the
skeleton as `controlnet_aux`'s `draw_bodypose` draws it, the edges' white
lines) replaces the pixels below it where it draws, and the layer below shows
everywhere else.
"""

from __future__ import annotations

import numpy as np

# A layer's pixel counts as drawn above this channel value. The skeleton's colours are saturated
# (limbs are blended at 60 %, so their brightest channel is at least ~150), lines are white and the
# canvas is black, so any threshold well between the two keeps anti-aliasing specks out.
DRAWN_THRESHOLD = 32


def drawn(layer: np.ndarray) -> np.ndarray:
    """Boolean `(..., height, width)`: where a layer drawn on black has something drawn."""
    return layer.max(axis=-1) > DRAWN_THRESHOLD


def drawn_over(below: np.ndarray, layer: np.ndarray) -> np.ndarray:
    """uint8 RGB frames: `layer`'s drawn pixels over `below`.

    Both are uint8 RGB of the same shape, one frame `(h, w, 3)` or a video `(n, h, w, 3)`.
    """
    if below.shape != layer.shape:
        raise ValueError(f"control images differ in shape: {below.shape} and {layer.shape}")
    if below.dtype != np.uint8 or layer.dtype != np.uint8:
        raise ValueError(f"control images must be uint8 RGB, got {below.dtype} and {layer.dtype}")
    if below.shape[-1] != 3:
        raise ValueError(f"control images must be RGB (last axis 3), got shape {below.shape}")
    return np.where(drawn(layer)[..., None], layer, below)
