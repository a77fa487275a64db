"""Control conversions: the conventions a ControlNet was trained on, as properties."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from shots import OBJECTS, WALL_DEPTH, write_shot

from underpaint.control import (
    DepthRange,
    ResizePlan,
    depth_image,
    depth_range,
    make_controls,
    normal_image,
    object_indices,
    object_masks,
    pose_image,
    shot_depth_range,
    to_uint8,
)
from underpaint.control.depth import FLOOR
from underpaint.errors import InputError
from underpaint.shot.models import Keypoint
from underpaint.shot.package import load_package

BACKGROUND = 1e10
THRESHOLD = 1e9
PROPERTY = settings(max_examples=60, deadline=None)

depths = st.floats(min_value=0.05, max_value=500.0, allow_nan=False)
frames = arrays(np.float32, (6, 7), elements=st.one_of(depths, st.just(np.float32(BACKGROUND))))


def _with_geometry(frame: np.ndarray) -> np.ndarray:
    frame = frame.copy()
    frame[0, 0] = 1.0  # every generated frame hits something
    return frame


@PROPERTY
@given(a=frames, b=frames, seed=st.integers(0, 2**32 - 1))
def test_depth_of_a_frame_is_the_same_in_a_2_and_a_200_frame_shot(a: np.ndarray, b: np.ndarray, seed: int) -> None:
    a, b = _with_geometry(a), _with_geometry(b)
    short = depth_range([a, b], THRESHOLD)
    rng = np.random.default_rng(seed)
    # 198 more frames whose geometry lies within the first two frames' depths, some empty (all background).
    extra = [rng.uniform(short.near, short.far, a.shape).astype(np.float32) for _ in range(180)]
    extra += [np.full(a.shape, BACKGROUND, np.float32) for _ in range(18)]
    long = depth_range([a, *extra, b], THRESHOLD)
    assert long == short
    assert np.array_equal(depth_image(a, short, THRESHOLD), depth_image(a, long, THRESHOLD))


@PROPERTY
@given(frame=frames)
def test_depth_is_monotonic_near_white_background_black(frame: np.ndarray) -> None:
    frame = _with_geometry(frame)
    rng = depth_range([frame], THRESHOLD)
    image = depth_image(frame, rng, THRESHOLD)
    hit = frame < THRESHOLD
    assert np.all(image[~hit] == 0.0)
    assert np.all((image[hit] >= FLOOR) & (image[hit] <= 1.0))
    order = np.argsort(frame[hit], kind="stable")
    assert np.all(np.diff(image[hit][order]) <= 0.0), "a farther pixel is never brighter"
    assert image[hit].max() == 1.0 and frame[hit][np.argmax(image[hit])] == rng.near


def test_depth_of_one_flat_plane_is_white() -> None:
    plane = np.full((4, 4), 2.5, np.float32)
    assert np.all(depth_image(plane, depth_range([plane], THRESHOLD), THRESHOLD) == 1.0)


def test_a_shot_without_geometry_is_refused() -> None:
    with pytest.raises(InputError, match="no frame of the shot has any geometry"):
        depth_range([np.full((2, 2), BACKGROUND, np.float32)], THRESHOLD)


unit_vectors = arrays(np.float32, 3, elements=st.floats(-1, 1, width=32, allow_subnormal=False)).filter(
    lambda v: np.linalg.norm(v) > 0.1
)


def test_camera_facing_normal_is_normalbae_blue() -> None:
    normals = np.array([[[0, 0, 1], [-1, 0, 0], [0, 1, 0], [0, 0, 0]]], np.float32)
    colours = to_uint8(normal_image(normals))[0]
    assert colours.tolist() == [[128, 128, 255], [255, 128, 128], [128, 255, 128], [128, 128, 128]]


@PROPERTY
@given(v=unit_vectors, scale=st.floats(0.2, 5.0))
def test_normal_colour_follows_the_scannet_protocol(v: np.ndarray, scale: float) -> None:
    n = v / np.linalg.norm(v)
    colour = normal_image((v * scale)[None, None, :])[0, 0]
    assert colour == pytest.approx([(1 - n[0]) / 2, (1 + n[1]) / 2, (1 + n[2]) / 2], abs=1e-5)


keypoint = st.builds(
    Keypoint,
    x=st.floats(0.0, 1.0, allow_subnormal=False),
    y=st.floats(0.0, 1.0, allow_subnormal=False),
    depth=st.just(3.0),
    visible=st.booleans(),
)
skeletons = st.lists(keypoint, min_size=18, max_size=18)


@PROPERTY
@given(people=st.lists(skeletons, min_size=1, max_size=2), width=st.integers(16, 96), height=st.integers(16, 96))
def test_pose_image_is_controlnet_aux_draw_bodypose(people: list[list[Keypoint]], width: int, height: int) -> None:
    with warnings.catch_warnings():  # controlnet_aux warns about detectors it cannot load
        warnings.simplefilter("ignore")
        from controlnet_aux.open_pose.body import Keypoint as AuxKeypoint
        from controlnet_aux.open_pose.util import draw_bodypose

    expected = np.zeros((height, width, 3), np.uint8)
    for person in people:
        expected = draw_bodypose(expected, [AuxKeypoint(k.x, k.y) if k.visible else None for k in person])
    plan = ResizePlan.fit((width, height), (width, height))
    assert np.array_equal(pose_image(people, plan), expected)


sizes = st.tuples(st.integers(8, 400), st.integers(8, 400))


def near(pixels: int, exact: float) -> bool:
    """`pixels` is `exact` rounded to whole pixels, or the one-pixel minimum."""
    return abs(pixels - exact) <= 0.5 + 1e-9 or (pixels == 1 and exact < 1)


@PROPERTY
@given(source=sizes, target=sizes, policy=st.sampled_from(["crop", "letterbox"]))
@example(source=(8, 8), target=(8, 129), policy="crop")
@example(source=(8, 400), target=(400, 8), policy="letterbox")
def test_resize_keeps_aspect_and_maps_boxes_onto_each_other(
    source: tuple[int, int], target: tuple[int, int], policy: str
) -> None:
    plan = ResizePlan.fit(source, target, policy)  # type: ignore[arg-type]
    (sw, sh), (tw, th) = source, target
    sx0, sy0, sx1, sy1 = plan.source_box
    tx0, ty0, tx1, ty1 = plan.target_box
    if policy == "crop":
        scale = max(tw / sw, th / sh)
        assert plan.target_box == (0, 0, tw, th)
        # The used source region is the exact aspect-keeping region, rounded to whole pixels (at least one), centred.
        assert near(sx1 - sx0, tw / scale) and near(sy1 - sy0, th / scale)
        assert abs(sx0 - (sw - sx1)) <= 1 and abs(sy0 - (sh - sy1)) <= 1
    else:
        scale = min(tw / sw, th / sh)
        assert plan.source_box == (0, 0, sw, sh)
        assert near(tx1 - tx0, sw * scale) and near(ty1 - ty0, sh * scale)
        assert abs(tx0 - (tw - tx1)) <= 1 and abs(ty0 - (th - ty1)) <= 1
    corner = plan.map_point(sx0 / source[0], sy0 / source[1])
    assert corner == pytest.approx((tx0 / target[0], ty0 / target[1]))
    image = np.random.default_rng(0).random((source[1], source[0], 3), dtype=np.float32)
    assert plan.apply(image).shape == (target[1], target[0], 3)


def test_letterbox_pads_with_the_fill_and_crop_cuts_the_sides() -> None:
    image = np.ones((10, 20), np.float32)
    letterbox = ResizePlan.fit((20, 10), (20, 20), "letterbox")
    out = letterbox.apply(image, fill=0.0)
    assert out[:5].max() == 0.0 and out[15:].max() == 0.0 and out[5:15].min() == 1.0
    crop = ResizePlan.fit((20, 10), (10, 10), "crop")
    assert crop.source_box == (5, 0, 15, 10)


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory):
    return load_package(write_shot(tmp_path_factory.mktemp("shot"), frames=5, width=40, height=30, pose=True))


def test_controls_of_a_range_use_the_whole_shots_depth_range(package) -> None:
    plan = ResizePlan.fit(package.size, (32, 24))
    whole = shot_depth_range(package)
    part = make_controls(package, [2, 3], plan, ["depth", "normal", "pose"])
    assert part.depth_range == whole
    assert part.metadata()["depth_range"] == [whole.near, whole.far]
    assert whole.far == WALL_DEPTH
    for kind in ("depth", "normal", "pose"):
        assert part.images[kind].shape == (2, 24, 32, 3) and part.images[kind].dtype == np.uint8
    full = make_controls(package, [1, 2, 3, 4, 5], plan, ["depth"])
    assert np.array_equal(full.images["depth"][1:3], part.images["depth"])
    stored = make_controls(package, [2], plan, ["depth"], shot_range=DepthRange(1.0, 20.0))
    assert stored.depth_range == DepthRange(1.0, 20.0)
    assert not np.array_equal(stored.images["depth"][0], part.images["depth"][0])


def test_pose_controls_draw_the_visible_joints(package) -> None:
    plan = ResizePlan.fit(package.size, package.size)
    controls = make_controls(package, [1], plan, ["pose"])
    keypoints = package.read_pose().frames[0].armatures[0].keypoints
    assert np.array_equal(controls.images["pose"][0], pose_image([keypoints], plan))
    assert controls.images["pose"][0].any()


def test_object_masks_cover_the_named_objects_only(package) -> None:
    plan = ResizePlan.fit(package.size, package.size)
    masks = object_masks(package, [1, 5], plan, ["Ball"])
    index = package.read_passes(1).object_index
    assert np.array_equal(masks[0] == 1.0, index == OBJECTS["Ball"])
    assert not np.array_equal(masks[0], masks[1]), "the ball rolls"
    assert object_indices(package.shot, ["Ball", "Box"]) == {1, 2}
    with pytest.raises(InputError, match="no object 'Teapot'"):
        object_indices(package.shot, ["Teapot"])


def test_missing_passes_are_named(tmp_path) -> None:
    package = load_package(write_shot(tmp_path / "shot", frames=2, width=16, height=12))
    plan = ResizePlan.fit(package.size, package.size)
    with pytest.raises(InputError, match="no pose.json") as caught:
        make_controls(package, [1], plan, ["pose"])
    assert caught.value.code == "missing_pass"


def test_a_recorded_resize_plan_is_the_same_plan() -> None:
    plan = ResizePlan.fit((1920, 1080), (512, 512), "letterbox")
    assert ResizePlan.from_json(plan.to_json()) == plan
