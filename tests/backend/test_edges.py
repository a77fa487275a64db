"""The `edges` control: silhouettes and creases measured from depth and normals, stable across frames."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from shots import BOX_DEPTH, WALL_DEPTH, scene_frame, write_shot

from underpaint.control import ResizePlan, make_controls
from underpaint.control.edges import creases, edge_lines, edges_image, silhouettes
from underpaint.shot.package import load_package

BACKGROUND = 1e9
H, W = 40, 60


def cube_corner() -> tuple[np.ndarray, np.ndarray]:
    """A wall at depth 10 and, in front of it, a cube turned 45 degrees: two faces meeting at column 30.

    Depth grows away from the crease (each face recedes), normals point left-front and right-front.
    """
    depth = np.full((H, W), 10.0, np.float32)
    normal = np.zeros((H, W, 3), np.float32)
    normal[:] = (0.0, 0.0, 1.0)
    rows, cols = slice(10, 30), np.arange(15, 46)
    for x in cols:
        depth[rows, x] = 3.0 + 0.05 * abs(x - 30)
        normal[rows, x] = (-0.707, 0.0, 0.707) if x < 30 else (0.707, 0.0, 0.707)
    return depth, normal


def test_a_cube_has_its_silhouette_and_its_crease_and_the_flat_wall_has_no_line() -> None:
    depth, normal = cube_corner()
    outline = silhouettes(depth, BACKGROUND)
    # The outline lies on the cube (the nearer side) all around it, and nowhere inside or on the wall.
    assert outline[10:30, 15].all() and outline[10:30, 45].all()
    assert outline[10, 15:46].all() and outline[29, 15:46].all()
    assert not outline[12:28, 17:44].any()
    wall = np.ones((H, W), bool)
    wall[9:31, 14:47] = False
    assert not outline[wall].any()
    fold = creases(depth, normal, BACKGROUND)
    assert fold[11:29, 29:31].any(axis=1).all(), "a line down the crease on every row"
    assert not fold[11:29, 17:28].any() and not fold[11:29, 32:44].any(), "no line on the flat faces"
    # Without normals the crease is found from depth alone (disparity bends there, not on the faces).
    from_depth = creases(depth, None, BACKGROUND)
    assert from_depth[11:29, 29:32].any(axis=1).all()
    assert not from_depth[11:29, 17:27].any() and not from_depth[11:29, 33:44].any()


def test_a_wall_at_a_grazing_angle_draws_nothing() -> None:
    # A plane receding steeply: depth 1 at the left edge to 40 at the right (1/z is affine across it).
    x = np.arange(W, dtype=np.float64)
    disparity = 1.0 - x * (1.0 - 1 / 40) / (W - 1)
    depth = np.repeat((1 / disparity)[None].astype(np.float32), H, axis=0)
    normal = np.zeros((H, W, 3), np.float32)
    normal[:] = (0.9, 0.0, 0.436)
    assert not edge_lines(depth, normal, BACKGROUND).any()
    assert not edge_lines(depth, None, BACKGROUND).any()


def test_the_background_border_is_an_outline_on_the_surface_side() -> None:
    depth = np.full((H, W), 1e10, np.float32)
    depth[:, :20] = 5.0
    outline = silhouettes(depth, BACKGROUND)
    assert outline[:, 19].all() and not outline[:, 20:].any() and not outline[:, :19].any()


def test_lines_keep_their_width_when_the_frame_is_scaled_down() -> None:
    depth, normal = cube_corner()
    lines = edge_lines(depth, normal, BACKGROUND)
    for size in ((60, 40), (30, 20), (15, 10)):
        image = edges_image(lines, ResizePlan.fit((W, H), size))
        assert image.shape == (size[1], size[0], 3) and set(np.unique(image)) <= {0, 255}
        column = image[size[1] // 2, :, 0] > 0
        assert column.any() and column.mean() < 0.5, "lines, not a filled frame"


def test_edges_of_a_shot_package_are_stable_for_the_static_box(tmp_path: Path) -> None:
    package = load_package(write_shot(tmp_path / "shot", frames=6, width=64, height=48))
    plan = ResizePlan.fit(package.size, (64, 48))
    controls = make_controls(package, package.frame_numbers, plan, ["edges"])
    edges = controls.images["edges"]
    assert edges.shape == (6, 48, 64, 3) and edges.dtype == np.uint8
    first = scene_frame(0, 6, 64, 48)
    box = first["depth"] == BOX_DEPTH
    rows, cols = np.nonzero(box)
    # The box's outline, away from where the rolling ball ever goes, is the same in every frame.
    ball_rows = set()
    for i in range(6):
        d = scene_frame(i, 6, 64, 48)["depth"]
        ball_rows |= set(np.nonzero((d < WALL_DEPTH) & (d != BOX_DEPTH))[0])
    still = [r for r in range(rows.min(), rows.max() + 1) if r not in ball_rows]
    assert still, "the scene has box rows the ball never crosses"
    box_edges = edges[:, still][:, :, cols.min() - 1 : cols.max() + 2, 0]
    assert box_edges.any()
    assert all(np.array_equal(box_edges[0], frame) for frame in box_edges[1:])
    # The flat wall's inside (facing the camera, one depth) has no line in any frame.
    for i in range(6):
        flat = interior(scene_frame(i, 6, 64, 48)["depth"] == WALL_DEPTH)
        assert flat.sum() > 500 and not edges[i][flat].any()


def interior(region: np.ndarray) -> np.ndarray:
    """The pixels of `region` whose four neighbours are in it too (the image border counts as outside)."""
    padded = np.pad(region, 1)
    return region & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
