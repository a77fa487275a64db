"""The AnimateDiff engine honours `known` + `repaint_mask` with the per-step latent blend (tiny models)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import DataDirFactory

from underpaint.engines.base import EngineError, PaintRequest, PromptSpan
from underpaint.engines.registry import load_engine

FRAMES, WIDTH, HEIGHT = 6, 32, 24


@pytest.fixture(scope="module")
def engine(data_dirs: DataDirFactory):
    return load_engine("tiny", data_dirs("data"), "cpu")


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


def test_kept_frames_are_known_and_the_range_is_painted_to_join_them(engine, edit: PaintRequest) -> None:
    first = paint(engine, edit)
    context = [0, 1, 4, 5]
    np.testing.assert_array_equal(first[context], edit.known[context])
    other = paint(engine, replace(edit, seed=2, prompts=[PromptSpan(0, "oil")]))
    assert np.abs(first[2:4].astype(int) - other[2:4]).mean() > 1.0, "the range is painted anew"
    # The per-step blend: the model sees the kept frames, so the range depends on them ...
    inverted = edit.known.copy()
    inverted[context] = 255 - inverted[context]
    assert np.abs(first[2:4].astype(int) - paint(engine, replace(edit, known=inverted))[2:4]).mean() > 0
    # ... and not on the known pixels of frames repainted whole (they are not even encoded).
    blanked = edit.known.copy()
    blanked[2:4] = 0
    np.testing.assert_array_equal(paint(engine, replace(edit, known=blanked)), first)
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
