"""The pixel composite, the latent keep mask and the seam figures of edits, without a model."""

from __future__ import annotations

import numpy as np
import torch

from underpaint.engines.animatediff.blend import outside_repaint_mask
from underpaint.takes.composite import composite, dilate, feathered_alpha
from underpaint.takes.seams import mask_edge_difference, range_seams


def disc(size: int = 32, radius: float = 8.0) -> np.ndarray:
    ys, xs = np.mgrid[0:size, 0:size]
    return (((xs - size / 2) ** 2 + (ys - size / 2) ** 2) <= radius**2).astype(np.float32)


def test_dilation_reaches_exactly_the_pixels_within_the_distance() -> None:
    mask = np.zeros((9, 9), np.float32)
    mask[4, 4] = 1
    grown = dilate(mask, 2)
    ys, xs = np.mgrid[0:9, 0:9]
    np.testing.assert_array_equal(grown, (np.hypot(xs - 4, ys - 4) <= 2).astype(np.float32))
    np.testing.assert_array_equal(dilate(mask, 0), mask)
    assert not dilate(np.zeros((4, 4), np.float32), 3).any()


def test_the_feathered_edge_lies_inside_the_mask() -> None:
    mask = disc()
    alpha = feathered_alpha(mask, 3)
    assert (alpha[mask == 0] == 0).all(), "nothing outside the mask takes any painting"
    assert 0 < alpha[mask == 1].min() <= 0.25 + 1e-6 and alpha[16, 16] == 1.0
    np.testing.assert_array_equal(feathered_alpha(mask, 0), mask)
    np.testing.assert_array_equal(feathered_alpha(np.ones((4, 4), np.float32), 3), np.ones((4, 4), np.float32))


def test_composite_keeps_every_parent_pixel_where_alpha_is_zero() -> None:
    rng = np.random.default_rng(0)
    parent, painted = (rng.integers(0, 256, (32, 32, 3), np.uint8) for _ in range(2))
    alpha = feathered_alpha(disc(), 2)
    out = composite(parent, painted, alpha)
    np.testing.assert_array_equal(out[alpha == 0], parent[alpha == 0])
    np.testing.assert_array_equal(out[alpha == 1], painted[alpha == 1])
    middle = (alpha > 0) & (alpha < 1)
    low, high = np.minimum(parent, painted)[middle], np.maximum(parent, painted)[middle]
    assert ((low <= out[middle]) & (out[middle] <= high)).all()


def test_a_latent_is_repainted_when_any_pixel_of_its_patch_is() -> None:
    mask = torch.zeros((2, 16, 24))
    mask[1, 9, 3] = 1  # one pixel of latent (1, 0) of frame 1
    fixed = outside_repaint_mask(torch.zeros((1, 4, 2, 2, 3)), mask)
    assert fixed.keep.shape == (1, 1, 2, 2, 3)
    assert fixed.keep[0, 0, 1, 1, 0] == 0 and fixed.keep.sum() == 2 * 2 * 3 - 1


def test_a_seam_shows_across_the_mask_edge_and_at_the_range_boundaries() -> None:
    mask = disc()
    flat = np.full((32, 32, 3), 100, np.uint8)
    patched = flat.copy()
    patched[mask == 1] = 160
    assert mask_edge_difference(flat, mask, 3) == 0.0
    assert mask_edge_difference(patched, mask, 3) > 50
    assert mask_edge_difference(flat, np.zeros((32, 32), np.float32), 3) is None

    levels = {n: np.full((4, 4, 3), 10 * n + (80 if 5 <= n <= 7 else 0), np.uint8) for n in range(1, 11)}
    seams = range_seams(levels.__getitem__, 5, 7, 1, 10)
    assert seams["inside_median"] == 10 and seams["before"] == 90 and seams["after"] == 70
    assert seams["jump"] == 9
    assert range_seams(levels.__getitem__, 1, 3, 1, 10)["before"] is None
