"""The AnimateDiff engine honours `known` + `repaint_mask` with the per-step latent blend (tiny models)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from underpaint.engines.base import EngineError, PaintRequest, PromptSpan
from underpaint.engines.registry import load_engine

FRAMES, WIDTH, HEIGHT = 6, 32, 24


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory):
    return load_engine("tiny", tmp_path_factory.mktemp("data"), "cpu")


def paint(engine, request: PaintRequest) -> np.ndarray:
    return np.concatenate([chunk.frames for chunk in engine.paint(request, lambda done, total: None)])


@pytest.fixture(scope="module")
def edit() -> PaintRequest:
    rng = np.random.default_rng(5)
    mask = np.zeros((FRAMES, HEIGHT, WIDTH), np.float32)
    mask[2:4] = 1  # frames 2 and 3 are repainted; the others are fixed context
    return PaintRequest(
        prompts=[PromptSpan(0, "ink")], width=WIDTH, height=HEIGHT, num_frames=FRAMES, steps=2, seed=1,
        controls={"depth": rng.integers(0, 256, (FRAMES, HEIGHT, WIDTH, 3), np.uint8)},
        known=rng.integers(0, 256, (FRAMES, HEIGHT, WIDTH, 3), np.uint8), repaint_mask=mask,
    )


def test_context_frames_follow_the_known_frames_and_only_the_range_is_painted(engine, edit: PaintRequest) -> None:
    first = paint(engine, edit)
    other = paint(engine, replace(edit, seed=2, prompts=[PromptSpan(0, "oil")]))
    free = paint(engine, replace(edit, known=None, repaint_mask=None))
    context = [0, 1, 4, 5]
    # Kept frames end as the known frames' clean latents whatever the seed and prompt: the same pixels
    # (up to a rounding step: the VAE decodes them beside different repainted frames).
    assert np.abs(first[context].astype(int) - other[context]).max() <= 1
    assert np.abs(first[context].astype(int) - free[context]).mean() > 1.0, "the blend changed nothing"
    assert np.abs(first[2:4].astype(int) - other[2:4]).mean() > 1.0, "the range is painted anew"
    assert engine.work_units(edit) == engine.work_units(replace(edit, known=None, repaint_mask=None))


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"repaint_mask": None}, "both"),
        ({"known": np.zeros((FRAMES, HEIGHT, WIDTH, 3), np.float32)}, "known frames"),
        ({"repaint_mask": np.zeros((FRAMES, HEIGHT, WIDTH), np.float64)}, "repaint mask"),
        ({"repaint_mask": np.full((FRAMES, HEIGHT, WIDTH), 2.0, np.float32)}, "[0, 1]"),
    ],
)
def test_malformed_edits_are_refused(engine, edit: PaintRequest, change: dict, words: str) -> None:
    with pytest.raises(EngineError, match=words.replace("[", r"\[")):
        engine.paint(replace(edit, **change), lambda done, total: None)
