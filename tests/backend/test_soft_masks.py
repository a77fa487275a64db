"""Grey in a mask is a blend weight: a drawn feather feathers, and where the mask is 0 nothing moves."""

from __future__ import annotations

import cv2
import numpy as np

from underpaint.takes.composite import composite, dilate, feathered_alpha


def circle(size: int = 48, radius: float = 12.0, feather: float = 6.0) -> np.ndarray:
    """A circle mask whose edge ramps from 1 to 0 over `feather` pixels, as Blender rasterizes a feathered Mask."""
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32)
    distance = np.hypot(xs - size / 2, ys - size / 2)
    return np.clip((radius + feather - distance) / feather, 0.0, 1.0).astype(np.float32)


def test_a_soft_mask_blends_by_its_weight_and_keeps_zero_pixels_exact() -> None:
    mask = circle()
    rng = np.random.default_rng(1)
    parent = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    painted = rng.integers(0, 256, (48, 48, 3), dtype=np.uint8)
    alpha = feathered_alpha(mask, 0)
    out = composite(parent, painted, alpha)
    assert np.array_equal(out[mask == 0], parent[mask == 0])
    assert np.array_equal(out[mask == 1], painted[mask == 1])
    half = (mask > 0.4) & (mask < 0.6)
    assert half.any()
    expected = np.rint(parent[half] * (1 - mask[half, None]) + painted[half] * mask[half, None])
    assert np.abs(out[half].astype(int) - expected).max() <= 1, "a grey pixel mixes by its weight"


def test_feather_ramps_inside_the_soft_edge_only() -> None:
    mask = circle()
    alpha = feathered_alpha(mask, 4)
    assert np.all(alpha[mask == 0] == 0) and np.all(alpha <= mask + 1e-6)
    assert alpha.max() == 1.0


def test_a_hard_mask_grows_exactly_as_a_euclidean_disc() -> None:
    mask = np.zeros((40, 40), np.float32)
    mask[15:22, 10:30] = 1.0
    grown = dilate(mask, 5)
    distance = cv2.distanceTransform((mask == 0).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    assert np.array_equal(grown, (distance <= 5).astype(np.float32))
    soft = dilate(circle(), 3)
    assert set(np.unique(soft)) - {0.0, 1.0}, "a soft edge stays soft when it grows"
    assert (soft > 0).sum() > (circle() > 0).sum()
