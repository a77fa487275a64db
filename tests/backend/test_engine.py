"""The animatediff engine end to end on the tiny model set: frames, windows, colour video, seeds, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DataDirFactory

from underpaint.engines.animatediff.engine import AnimateDiffEngine
from underpaint.engines.base import (
    Cancelled,
    ControlSetting,
    EngineError,
    FrameChunk,
    PaintRequest,
    PromptSpan,
    StyleRef,
)
from underpaint.engines.registry import load_engine

SIZE = 32


@pytest.fixture(scope="module")
def engine(data_dirs: DataDirFactory) -> AnimateDiffEngine:
    return load_engine("tiny", data_dirs("data"), device="cpu")


def moving_blob(frames: int, size: int = SIZE) -> np.ndarray:
    """A bright disc drifting left to right: a smooth stand-in for a depth pass."""
    y, x = np.mgrid[0:size, 0:size]
    t = np.arange(frames)[:, None, None]
    blob = np.exp(
        -((x[None] - (size * 0.1 + t * size * 0.02)) ** 2 + (y[None] - size / 2) ** 2) / (size * 1.2)
    )
    return np.repeat((255 * blob).astype(np.uint8)[..., None], 3, axis=-1)


def colour_render(frames: int, size: int = SIZE) -> np.ndarray:
    blob = moving_blob(frames, size)[..., 0].astype(np.float64) / 255
    return np.stack([255 * blob, 255 * (1 - blob), np.full_like(blob, 128)], axis=-1).astype(np.uint8)


def request(frames: int, **changes: object) -> PaintRequest:
    options: dict[str, object] = dict(
        prompts=[PromptSpan(0, "a painted fox in a forest")],
        width=SIZE,
        height=SIZE,
        num_frames=frames,
        steps=2,
        seed=7,
        controls={"depth": moving_blob(frames)},
    )
    options.update(changes)
    return PaintRequest(**options)  # type: ignore[arg-type]


def paint(
    engine: AnimateDiffEngine, req: PaintRequest
) -> tuple[np.ndarray, list[FrameChunk], list[tuple[int, int]]]:
    steps: list[tuple[int, int]] = []
    chunks = list(engine.paint(req, lambda done, total: steps.append((done, total))))
    return np.concatenate([c.frames for c in chunks]), chunks, steps


def test_two_frames(engine: AnimateDiffEngine) -> None:
    frames, chunks, steps = paint(engine, request(2))
    assert frames.shape == (2, SIZE, SIZE, 3) and frames.dtype == np.uint8
    assert [c.start for c in chunks] == [0]
    assert steps == [(1, 2), (2, 2)]
    assert engine.work_units(request(2)) == 2 * 2
    assert frames.std() > 1, "frames are not blank"


def test_forty_frames_are_painted_in_windows_and_delivered_in_order(engine: AnimateDiffEngine) -> None:
    req = request(40)
    frames, chunks, steps = paint(engine, req)
    assert frames.shape == (40, SIZE, SIZE, 3)
    assert [c.start for c in chunks] == list(range(0, 40, engine.settings.window))
    windows = engine._plan(req).windows
    assert len(windows) > 1 and all(w.length == engine.settings.window for w in windows)
    assert steps == [(i, 2 * len(windows)) for i in range(1, 2 * len(windows) + 1)]
    assert engine.work_units(req) == 2 * sum(w.length for w in windows)


@pytest.mark.parametrize("frames", [2, 40])
def test_colour_video_is_painted_over(engine: AnimateDiffEngine, frames: int) -> None:
    plain, _, _ = paint(engine, request(frames))
    over, _, steps = paint(engine, request(frames, init_video=colour_render(frames), strength=0.5))
    assert over.shape == plain.shape
    assert np.abs(over.astype(int) - plain).mean() > 5
    assert steps[-1][1] == len(engine._plan(request(frames)).windows) * 1, (
        "strength 0.5 of 2 steps runs 1 step"
    )
    again, _, _ = paint(engine, request(frames, init_video=colour_render(frames), strength=0.5))
    np.testing.assert_array_equal(over, again)


def test_colour_render_steers_the_result_more_at_lower_strength(engine: AnimateDiffEngine) -> None:
    # A random VAE does not reproduce an image, so the reference is the render as this VAE sees it.
    render = colour_render(8)
    vae = engine.components.vae
    with torch.no_grad():
        pixels = torch.from_numpy(render).permute(0, 3, 1, 2).float() / 127.5 - 1
        seen = vae.decode(vae.encode(pixels).latent_dist.mode()).sample.clamp(-1, 1)
    reference = ((seen + 1) * 127.5).round().permute(0, 2, 3, 1).numpy()
    distance = []
    for strength in (0.1, 0.5, 1.0):
        frames, _, _ = paint(engine, request(8, steps=10, init_video=render, strength=strength))
        distance.append(np.abs(frames - reference).mean())
    assert distance == sorted(distance) and distance[0] < 5 < distance[-1]


def test_same_seed_same_frames_other_seed_other_frames(engine: AnimateDiffEngine) -> None:
    first, _, _ = paint(engine, request(12))
    second, _, _ = paint(engine, request(12))
    other, _, _ = paint(engine, request(12, seed=8))
    np.testing.assert_array_equal(first, second)
    assert np.abs(first.astype(int) - other).mean() > 5


def test_prompt_negative_prompt_guidance_and_steps_change_the_frames(engine: AnimateDiffEngine) -> None:
    base, _, _ = paint(engine, request(4))
    for change in (
        dict(prompts=[PromptSpan(0, "a watercolour city at night")]),
        dict(negative_prompt="blurry"),
        dict(guidance=2.0),
        dict(steps=3),
    ):
        changed, _, _ = paint(engine, request(4, **change))
        assert np.abs(changed.astype(int) - base).mean() > 0.5, change


def test_prompt_schedule_changes_the_frames_from_its_start(engine: AnimateDiffEngine) -> None:
    single, _, _ = paint(engine, request(4, guidance=1.0))
    schedule = [PromptSpan(0, "a painted fox in a forest"), PromptSpan(2, "a watercolour city at night")]
    scheduled, _, _ = paint(engine, request(4, guidance=1.0, prompts=schedule))
    # Without guidance the motion module still mixes frames, so all may change, the later ones most.
    assert (
        np.abs(scheduled[2:].astype(int) - single[2:]).mean()
        > np.abs(scheduled[:2].astype(int) - single[:2]).mean()
    )


def test_controls_weights_and_ranges_steer_the_frames(engine: AnimateDiffEngine) -> None:
    depth = moving_blob(4)
    pose = np.ascontiguousarray(depth[:, ::-1])
    one, _, _ = paint(engine, request(4, controls={"depth": depth}))
    two, _, _ = paint(engine, request(4, controls={"depth": depth, "pose": pose}))
    weak = ControlSetting(weight=0.3, start=0.0, end=0.5)
    weighted, _, _ = paint(
        engine, request(4, controls={"depth": depth, "pose": pose}, control_settings={"pose": weak})
    )
    assert np.abs(one.astype(int) - two).mean() > 0.5
    assert np.abs(two.astype(int) - weighted).mean() > 0.5


def test_cancel_stops_within_one_step_and_the_engine_paints_on(engine: AnimateDiffEngine) -> None:
    seen: list[int] = []

    def stop_at_three(done: int, total: int) -> None:
        seen.append(done)
        if done == 3:
            raise Cancelled()

    with pytest.raises(Cancelled):
        list(engine.paint(request(40), stop_at_three))
    assert seen == [1, 2, 3]
    frames, _, _ = paint(engine, request(2))
    expected, _, _ = paint(engine, request(2))
    np.testing.assert_array_equal(frames, expected)


def test_out_of_memory_becomes_an_engine_error_and_the_engine_paints_on(engine: AnimateDiffEngine) -> None:
    # The exception torch raises when an allocation fails, raised from inside a denoising step.
    def run_out(done: int, total: int) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    with pytest.raises(EngineError, match="lower the resolution or the number of frames"):
        list(engine.paint(request(2), run_out))
    frames, _, _ = paint(engine, request(2))
    assert frames.shape == (2, SIZE, SIZE, 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(width=36), "multiples of 8"),
        (dict(controls={}), "no control images"),
        (dict(controls={"canny": moving_blob(2)}), "not available"),
        (dict(controls={"depth": moving_blob(3)}), "expected uint8 frames of shape"),
        (dict(controls={"depth": moving_blob(2).astype(np.float32)}), "expected uint8"),
        (dict(init_video=colour_render(2), strength=1.5), "strength"),
        (dict(init_video=colour_render(2), strength=0.1), "leaves no step"),
        (dict(prompts=[]), "no prompt"),
        (dict(prompts=[PromptSpan(5, "late")]), "prompt schedule"),
        (dict(steps=0), "steps"),
        (dict(control_settings={"depth": ControlSetting(start=0.6, end=0.4)}), "start < end"),
        (dict(known=np.zeros((2, SIZE, SIZE, 3), np.uint8)), "needs both"),
    ],
)
def test_bad_requests_are_refused_before_painting(
    engine: AnimateDiffEngine, change: dict, message: str
) -> None:
    with pytest.raises(EngineError, match=message):
        engine.paint(request(2, **change), lambda done, total: None)


def test_missing_style_file_is_refused(engine: AnimateDiffEngine, tmp_path: Path) -> None:
    with pytest.raises(EngineError, match="not found"):
        engine.paint(request(2, styles=[StyleRef(str(tmp_path / "nope.safetensors"))]), lambda d, t: None)
