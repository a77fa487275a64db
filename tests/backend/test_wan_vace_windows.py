"""Window planning, padding, colour matching, the pose-over-depth control and wan-vace set options (no model)."""

from __future__ import annotations

import numpy as np
import pytest

from underpaint.control.overlay import drawn_over
from underpaint.engines.base import ControlSetting, EngineError, PaintRequest, PromptSpan
from underpaint.engines.registry import ModelSet
from underpaint.engines.wan_vace.config import parse_options
from underpaint.engines.wan_vace.engine import control_scales, flow_shift_for
from underpaint.engines.wan_vace.windows import (
    match_colours,
    model_frame_count,
    pad_edges,
    padded_size,
    plan_windows,
)


@pytest.mark.parametrize("frames", range(1, 60))
@pytest.mark.parametrize(("window", "overlap"), [(9, 5), (13, 4), (81, 17)])
def test_windows_paint_every_frame_once_in_4k_plus_1_calls(frames: int, window: int, overlap: int) -> None:
    windows = plan_windows(frames, window, overlap)
    new = [i for w in windows for i in range(w.new_start, w.end)]
    assert new == list(range(frames))
    assert windows[0].context == 0 and all(w.context == overlap for w in windows[1:])
    for w in windows:
        assert (w.length - 1) % 4 == 0 and w.end - w.start <= w.length < w.end - w.start + 4
        assert w.end - w.start <= window


def test_frame_counts_and_sizes_round_up_to_what_the_model_takes() -> None:
    assert [model_frame_count(n) for n in (1, 2, 5, 6, 10, 81, 82)] == [1, 5, 5, 9, 13, 81, 85]
    assert padded_size(480, 832, 16) == (480, 832)
    assert padded_size(360, 648, 16) == (368, 656)
    with pytest.raises(ValueError, match="4k\\+1"):
        plan_windows(20, 10, 2)
    with pytest.raises(ValueError, match="overlap"):
        plan_windows(20, 9, 9)


def test_padding_repeats_the_last_frame_and_edge_pixels_after_the_shot() -> None:
    video = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    padded = pad_edges(video, 5, 4, 6)
    assert padded.shape == (5, 4, 6)
    assert np.array_equal(padded[:2, :3, :4], video)
    assert (padded[2:] == padded[1]).all()
    assert np.array_equal(padded[:, 3, :4], padded[:, 2, :4]) and (padded[:2, :3, 5] == video[:, :, 3]).all()


def test_colour_matching_removes_a_windows_drift_on_the_kept_pixels() -> None:
    rng = np.random.default_rng(0)
    reference = rng.uniform(0.2, 0.8, (4, 16, 16, 3)).astype(np.float32)
    drifted = reference * 0.7 + np.array([0.15, -0.05, 0.1], np.float32)
    fixed = np.zeros((4, 16, 16), bool)
    fixed[:2] = True
    assert np.allclose(match_colours(drifted, reference, fixed), reference, atol=1e-4)
    # Too few kept pixels to measure: left as painted.
    assert match_colours(drifted, reference, np.zeros_like(fixed)) is drifted


def test_pose_is_drawn_over_depth() -> None:
    depth = np.full((2, 8, 8, 3), 90, np.uint8)
    pose = np.zeros_like(depth)
    pose[:, 2:4, 2:6] = (0, 153, 255)
    pose[:, 6, 6] = (10, 10, 10)  # a dark speck is not skeleton
    both = drawn_over(depth, pose)
    assert (both[:, 2:4, 2:6] == (0, 153, 255)).all()
    assert (both[:, 6, 6] == 90).all() and (both[:, 0, 0] == 90).all()
    with pytest.raises(ValueError, match="shape"):
        drawn_over(depth, pose[:1])


def test_control_strength_per_step_is_the_strongest_active_control() -> None:
    req = PaintRequest(
        prompts=[PromptSpan(0, "x")],
        width=16,
        height=16,
        num_frames=1,
        controls={"depth": np.zeros((1, 16, 16, 3), np.uint8), "pose": np.zeros((1, 16, 16, 3), np.uint8)},
        control_settings={"depth": ControlSetting(0.5), "pose": ControlSetting(0.9, start=0.0, end=0.5)},
    )
    assert control_scales(req, 4) == [0.9, 0.9, 0.5, 0.5]
    req.controls = {}
    assert control_scales(req, 2) == [1.0, 1.0]


def test_flow_shift_follows_the_resolution() -> None:
    assert flow_shift_for(480, 832) == 3.0
    assert flow_shift_for(720, 1280) == 5.0


@pytest.mark.parametrize(
    ("components", "message"),
    [
        ({"pipeline": "a/b", "windows": 9}, "windows: unknown key"),
        ({}, "exactly one of"),
        ({"pipeline": "a/b", "builder": "tiny-vace"}, "exactly one of"),
        ({"builder": "huge"}, "builder = 'huge'"),
        ({"pipeline": "a/b", "window": 10}, "4k\\+1"),
        ({"pipeline": "a/b", "window": "81"}, "window = '81': Input should be a valid integer"),
        ({"pipeline": "a/b", "offload": "sometimes"}, "offload = 'sometimes'"),
        ({"pipeline": "a/b", "controls": ["normal"]}, "not VACE controls"),
    ],
)
def test_bad_model_set_options_name_the_problem(components: dict, message: str) -> None:
    with pytest.raises(EngineError, match=message):
        parse_options(ModelSet(name="mine", engine="wan-vace", components=components))
