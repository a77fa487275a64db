"""Context windows: the schedule's shape, the crossfade weights, and no jump where windows join."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import DataDirFactory
from hypothesis import given
from hypothesis import strategies as st

from underpaint.engines.animatediff.engine import AnimateDiffEngine
from underpaint.engines.animatediff.windows import blend_weights, plan_windows
from underpaint.engines.base import PaintRequest, PromptSpan
from underpaint.engines.registry import load_engine

SIZE = 32
# Iglewicz & Hoaglin: a modified z-score above 3.5 marks an outlier.
OUTLIER = 3.5

shots = st.integers(min_value=1, max_value=200)
window_shapes = st.integers(min_value=1, max_value=24).flatmap(
    lambda w: st.tuples(st.just(w), st.integers(min_value=0, max_value=w - 1))
)


@given(shots, window_shapes)
def test_windows_cover_the_shot_with_the_overlap(frames: int, shape: tuple[int, int]) -> None:
    window, overlap = shape
    windows = plan_windows(frames, window, overlap)
    assert windows[0].start == 0 and windows[-1].stop == frames
    assert all(w.length == min(window, frames) for w in windows)
    assert all(b.start <= a.stop - overlap for a, b in zip(windows, windows[1:], strict=False))
    assert all(a.start < b.start for a, b in zip(windows, windows[1:], strict=False))
    fewer = len(windows) - 1
    assert fewer == 0 or (fewer - 1) * (window - overlap) + window < frames, "no window is superfluous"


@given(shots, window_shapes)
def test_weights_crossfade_and_sum_to_one(frames: int, shape: tuple[int, int]) -> None:
    window, overlap = shape
    windows = plan_windows(frames, window, overlap)
    weights = blend_weights(windows, frames, overlap)
    total = torch.zeros(frames)
    for w, weight in zip(windows, weights, strict=True):
        assert weight.shape == (w.length,) and bool((weight > 0).all()) and bool((weight <= 1 + 1e-6).all())
        total[w.frames] += weight
    torch.testing.assert_close(total, torch.ones(frames))
    if any(c.start < a.stop for a, c in zip(windows, windows[2:], strict=False)):
        return  # three windows share a frame: the weights still sum to 1, but need not fade monotonically
    paired = list(zip(windows, weights, strict=True))
    for (a, wa), (b, wb) in zip(paired, paired[1:], strict=False):
        shared = range(b.start, a.stop)
        if overlap and len(shared) > 1:
            falling = wa[[f - a.start for f in shared]]
            rising = wb[[f - b.start for f in shared]]
            assert bool((falling[1:] <= falling[:-1] + 1e-6).all()) and bool(
                (rising[1:] >= rising[:-1] - 1e-6).all()
            )


@pytest.fixture(scope="module")
def engine(data_dirs: DataDirFactory) -> AnimateDiffEngine:
    return load_engine("tiny", data_dirs("data"), device="cpu")


def shot(frames: int, video: bool) -> PaintRequest:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    t = np.arange(frames)[:, None, None]
    blob = np.exp(-((x[None] - (3 + 0.6 * t)) ** 2 + (y[None] - SIZE / 2) ** 2) / 40.0)
    depth = np.repeat((255 * blob).astype(np.uint8)[..., None], 3, axis=-1)
    colour = np.stack([255 * blob, 255 * (1 - blob), np.full_like(blob, 128)], axis=-1).astype(np.uint8)
    return PaintRequest(
        prompts=[PromptSpan(0, "a painted fox")],
        width=SIZE,
        height=SIZE,
        num_frames=frames,
        steps=4 if video else 2,
        seed=11,
        controls={"depth": depth},
        init_video=colour if video else None,
        strength=0.5,
    )


def join_scores(frames: np.ndarray, joins: list[int]) -> np.ndarray:
    """Modified z-scores of the frame-to-frame differences at `joins` against all the others.

    Frames are first averaged over 4x4-pixel blocks, so that d measures changes of the picture
    rather than pixel noise; d[i] = mean |frame[i+1] - frame[i]|, and
    score = 0.6745 (d[join] - median(d_inside)) / MAD(d_inside).
    """
    n, h, w, c = frames.shape
    blocks = frames.astype(np.float64).reshape(n, h // 4, 4, w // 4, 4, c).mean(axis=(2, 4))
    d = np.abs(np.diff(blocks, axis=0)).mean(axis=(1, 2, 3))
    inside = np.delete(d, joins)
    median = np.median(inside)
    mad = np.median(np.abs(inside - median))
    return 0.6745 * (d[joins] - median) / mad


def crossfade_steps(engine: AnimateDiffEngine, req: PaintRequest) -> list[int]:
    """Every difference d[i] whose two frames are not both painted by one window alone."""
    plan = engine._plan(req)
    shared = np.zeros(req.num_frames, dtype=bool)
    for window, weight in zip(plan.windows, plan.weights, strict=True):
        shared[window.start : window.stop] |= weight.numpy() < 1
    return [i for i in range(req.num_frames - 1) if shared[i] or shared[i + 1]]


@pytest.mark.parametrize("video", [False, True], ids=["text", "colour-video"])
def test_forty_frames_join_without_a_jump(engine: AnimateDiffEngine, video: bool) -> None:
    req = shot(40, video)
    frames = np.concatenate([c.frames for c in engine.paint(req, lambda done, total: None)])
    joins = crossfade_steps(engine, req)
    assert len(engine._plan(req).windows) >= 5 and joins
    assert join_scores(frames, joins).max() < OUTLIER
    # The statistic is not blind at the tiny models' noise level: a step of 24/255 after one join stands out.
    jumped = frames.astype(np.int16)
    jumped[joins[len(joins) // 2] + 1 :] += 24
    assert join_scores(np.clip(jumped, 0, 255), joins).max() > OUTLIER


def test_the_models_never_see_more_than_one_window(engine: AnimateDiffEngine) -> None:
    seen: list[int] = []
    hook = engine.components.unet.register_forward_pre_hook(
        lambda module, args: seen.append(args[0].shape[2])
    )
    try:
        list(engine.paint(shot(40, video=False), lambda done, total: None))
    finally:
        hook.remove()
    assert seen and max(seen) == engine.settings.window
