"""Normal control images in the convention of ControlNet 1.1 `normalbae`.

That model was trained on NormalBAE estimates drawn in the ScanNet protocol:
"blue is front, red is left, green is top". The shot package holds Blender
camera-space normals (+X right, +Y up, +Z towards the camera), so:

    R = (1 - nx) / 2      a surface facing left is red
    G = (1 + ny) / 2      a surface facing up is green
    B = (1 + nz) / 2      a surface facing the camera is blue

A camera-facing surface (0, 0, 1) is (0.5, 0.5, 1.0), i.e. (128, 128, 255).
Background pixels (zero vector) come out neutral grey (0.5, 0.5, 0.5).
"""

from __future__ import annotations

import numpy as np

# The colour of "no surface": the zero normal mapped like any other, used to pad letterboxes.
BACKGROUND = (0.5, 0.5, 0.5)


def normal_image(normal: np.ndarray) -> np.ndarray:
    """float32 (H, W, 3) camera-space normals -> float32 (H, W, 3) colours in [0, 1]."""
    n = normal.astype(np.float32)
    length = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.where(length > 1e-6, n / np.maximum(length, 1e-6), 0.0)
    return np.stack([(1.0 - n[..., 0]) * 0.5, (1.0 + n[..., 1]) * 0.5, (1.0 + n[..., 2]) * 0.5], axis=-1)
