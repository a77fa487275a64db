"""One conformance suite, run over every engine: what the product relies on from any engine behind the seam.

Each engine's tiny set is built once and loaded through the registry (the same
`EngineFactory.load` as real sets). A new engine joins by adding its tiny set
to `ENGINES`; the rules it must keep are these tests.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DataDirFactory

from underpaint.engines.animatediff.engine import AnimateDiffEngine
from underpaint.engines.base import (
    Cancelled,
    Capabilities,
    ControlSetting,
    Engine,
    EngineError,
    PaintRequest,
    PromptSpan,
)
from underpaint.engines.checks import check_request
from underpaint.engines.registry import BUILTIN_ENGINES, engine_factory, get_model_set, load_engine
from underpaint.engines.schedule import steps_run
from underpaint.engines.wan_vace.engine import WanVaceEngine

# The tiny set of every built-in engine.
ENGINES = {"animatediff": "tiny", "wan-vace": "tiny-vace"}
SIZE = 32
FRAMES = 5


def test_every_builtin_engine_is_in_the_suite() -> None:
    assert set(ENGINES) == set(BUILTIN_ENGINES)


@pytest.fixture(scope="module", params=sorted(ENGINES))
def setup(request: pytest.FixtureRequest, data_dirs: DataDirFactory) -> tuple[Engine, Capabilities]:
    data_dir = data_dirs("data")
    model_set = get_model_set(ENGINES[request.param], data_dir)
    capabilities = engine_factory(model_set.engine).capabilities(model_set, data_dir)
    return load_engine(model_set.name, data_dir, device="cpu"), capabilities


def blob(frames: int = FRAMES, shift: int = 0) -> np.ndarray:
    """A bright disc drifting across the frame: a smooth stand-in for a depth pass."""
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    t = np.arange(frames)[:, None, None] + shift
    value = 255 * np.exp(-((x[None] - 8 - 2 * t) ** 2 + (y[None] - SIZE / 2) ** 2) / 40.0)
    return np.repeat(value.astype(np.uint8)[..., None], 3, axis=-1)


def make_request(**changes: object) -> PaintRequest:
    options: dict[str, object] = dict(
        prompts=[PromptSpan(0, "a painted fox")], width=SIZE, height=SIZE, num_frames=FRAMES, steps=2,
        guidance=3.0, seed=5, controls={"depth": blob()},
    )
    options.update(changes)
    return PaintRequest(**options)  # type: ignore[arg-type]


def paint(engine: Engine, request: PaintRequest, on_step: Callable[[int, int], None] = lambda d, t: None) -> np.ndarray:
    chunks = list(engine.paint(request, on_step))
    starts = [c.start for c in chunks]
    assert starts == np.cumsum([0] + [len(c.frames) for c in chunks[:-1]]).tolist(), "chunks in order, no gap"
    return np.concatenate([c.frames for c in chunks])


def test_frame_count_and_size_are_kept(setup: tuple[Engine, Capabilities]) -> None:
    engine, _ = setup
    for frames, width in ((FRAMES, SIZE), (2, 24)):
        request = make_request(num_frames=frames, width=width, controls={"depth": blob(frames)[:, :, :width]})
        painted = paint(engine, request)
        assert painted.shape == (frames, SIZE, width, 3) and painted.dtype == np.uint8


def test_the_seed_decides_the_painting(setup: tuple[Engine, Capabilities]) -> None:
    engine, _ = setup
    first = paint(engine, make_request())
    assert np.array_equal(paint(engine, make_request()), first)
    assert not np.array_equal(paint(engine, make_request(seed=6)), first)


def test_an_edit_keeps_the_known_pixels_bit_for_bit_outside_the_mask(setup: tuple[Engine, Capabilities]) -> None:
    engine, _ = setup
    known = paint(engine, make_request(seed=1))
    mask = np.zeros((FRAMES, SIZE, SIZE), np.float32)
    mask[1:4, 8:20, 10:24] = 1.0
    mask[2, 20:24, 10:24] = 0.5  # a soft edge counts as repainted
    edited = paint(engine, make_request(seed=2, known=known, repaint_mask=mask))
    outside = mask == 0
    assert np.array_equal(edited[outside], known[outside])
    assert not np.array_equal(edited[mask > 0], known[mask > 0])


def test_cancel_lands_within_one_step(setup: tuple[Engine, Capabilities]) -> None:
    engine, _ = setup
    calls: list[tuple[int, int]] = []

    def cancel(done: int, total: int) -> None:
        calls.append((done, total))
        raise Cancelled

    with pytest.raises(Cancelled):
        paint(engine, make_request(), cancel)
    assert len(calls) == 1 and calls[0][0] == 1


def test_steps_are_counted_across_the_request_and_strength_runs_its_share(setup: tuple[Engine, Capabilities]) -> None:
    engine, _ = setup
    for strength, steps in ((1.0, 2), (0.5, 4), (0.75, 4)):
        counted: list[tuple[int, int]] = []
        request = make_request(init_video=blob(shift=3), strength=strength, steps=steps)
        paint(engine, request, lambda done, total, counted=counted: counted.append((done, total)))
        total = counted[-1][1]
        assert counted == [(i, total) for i in range(1, total + 1)]
        assert total % steps_run(steps, strength) == 0  # the same share of the steps in every window
    with pytest.raises(EngineError, match="leaves no step"):
        paint(engine, make_request(init_video=blob(), strength=0.2, steps=4))


def bad_requests(capabilities: Capabilities) -> list[tuple[dict[str, object], str]]:
    wrong_dtype = np.zeros((FRAMES, SIZE, SIZE), np.uint8)
    cases: list[tuple[dict[str, object], str]] = [
        ({"num_frames": 0, "controls": {"depth": blob()[:0]}}, "num_frames"),
        ({"width": 30, "controls": {"depth": blob()[:, :, :30]}}, "multiples of 8"),
        ({"prompts": []}, "no prompt"),
        ({"prompts": [PromptSpan(3, "a"), PromptSpan(1, "b")]}, "prompt schedule"),
        ({"steps": 0}, "steps"),
        ({"controls": {"depth": blob(FRAMES - 1)}}, "control 'depth'"),
        ({"controls": {"depth": blob().astype(np.float32)}}, "uint8"),
        ({"controls": {"normal-ish": blob()}}, "not available"),
        ({"control_settings": {"depth": ControlSetting(weight=1.0, start=0.8, end=0.2)}}, "start < end"),
        ({"init_video": blob(), "strength": 1.5}, "strength"),
        ({"known": blob()}, "both"),
        ({"known": blob(), "repaint_mask": wrong_dtype}, "float32"),
        ({"known": blob(), "repaint_mask": np.full((FRAMES, SIZE, SIZE), 2.0, np.float32)}, r"\[0, 1\]"),
        ({"reference_images": [np.zeros((8, 8), np.uint8)]}, "reference image"),
    ]
    missing = [c for c in ("depth", "normal", "pose", "edges") if c not in capabilities.controls]
    if missing:
        cases.append(({"controls": {missing[0]: blob()}}, f"control {missing[0]!r} is not available"))
    if not capabilities.references:
        cases.append(({"reference_images": [np.zeros((8, 8, 3), np.uint8)]}, "takes no reference images"))
    if capabilities.control_required:
        cases.append(({"controls": {}}, "no control images"))
    return cases


def test_bad_requests_are_refused_before_any_step_the_same_way(setup: tuple[Engine, Capabilities]) -> None:
    engine, capabilities = setup
    for changes, message in bad_requests(capabilities):
        steps: list[int] = []
        with pytest.raises(EngineError, match=message):
            paint(engine, make_request(**changes), lambda done, total, steps=steps: steps.append(done))
        assert steps == [], f"{changes}: refused only after painting"


def test_capabilities_describe_the_loaded_engine(setup: tuple[Engine, Capabilities]) -> None:
    engine, capabilities = setup
    for control in capabilities.controls:
        painted = paint(engine, make_request(num_frames=2, controls={control: blob(2)}))
        assert painted.shape == (2, SIZE, SIZE, 3)
    assert capabilities.window >= 1 and 0 <= capabilities.context < capabilities.window
    assert capabilities.size_multiple % 8 == 0
    data = capabilities.to_json()
    assert [c["name"] for c in data["controls"]] == list(capabilities.controls)
    assert set(data["capabilities"]) == {"masks", "references", "styles", "video2video", "cache", "draft"}
    cached = make_request(num_frames=2, controls={capabilities.controls[0]: blob(2)}, cache=True)
    if capabilities.cache:
        assert paint(engine, cached).shape == (2, SIZE, SIZE, 3)
    else:
        with pytest.raises(EngineError, match="no step cache"):
            paint(engine, cached)


def denoiser(engine: Engine) -> torch.nn.Module:
    """The module every denoising step calls once per window and guidance branch."""
    if isinstance(engine, AnimateDiffEngine):
        assert engine.components.draft is not None
        return engine.components.draft.unet
    assert isinstance(engine, WanVaceEngine)
    return engine.pipe.transformer


def test_a_draft_runs_its_stated_steps_without_guidance_on_the_draft_models(
    setup: tuple[Engine, Capabilities],
) -> None:
    engine, capabilities = setup
    draft = capabilities.draft
    assert draft is not None and draft.guidance <= 1, "every tiny set carries a draft, as the real ones do"
    assert capabilities.to_json()["draft"] == {"steps": draft.steps, "guidance": draft.guidance}
    request = make_request(steps=draft.steps, guidance=draft.guidance, draft=True)
    batches: list[int] = []

    def count(module: torch.nn.Module, args: tuple, kwargs: dict) -> None:
        latents = args[0] if args else kwargs.get("sample", kwargs.get("hidden_states"))
        batches.append(latents.shape[0])

    handle = denoiser(engine).register_forward_pre_hook(count, with_kwargs=True)
    counted: list[tuple[int, int]] = []
    try:
        painted = paint(engine, request, lambda done, total: counted.append((done, total)))
    finally:
        handle.remove()
    assert painted.shape == (FRAMES, SIZE, SIZE, 3) and painted.dtype == np.uint8
    windows = counted[-1][1] // draft.steps
    assert counted == [(i, draft.steps * windows) for i in range(1, draft.steps * windows + 1)]
    # One call per step and window, one batch row: no unconditional branch, the draft's models in use.
    assert batches == [1] * (draft.steps * windows)
    assert np.array_equal(paint(engine, request), painted), "a draft is deterministic by seed"
    final_models = make_request(steps=draft.steps, guidance=draft.guidance)
    assert not np.array_equal(paint(engine, final_models), painted), "the draft paints with other models"


def test_a_draft_is_refused_where_the_set_has_none(setup: tuple[Engine, Capabilities]) -> None:
    _, capabilities = setup
    request = make_request(draft=True)
    with pytest.raises(EngineError, match="has no draft models"):
        check_request(request, replace(capabilities, draft=None), "some-engine")


def test_a_table_with_a_wrong_key_or_type_names_the_set_and_the_key(tmp_path: Path) -> None:
    (tmp_path / "models.toml").write_text(
        '[typo]\nengine = "animatediff"\nbuilder = "tiny"\nbase = "a/b"\nmotion_adapter = "c/d"\n'
        'controlnets = { depth = "e/f" }\nwindw = 3\n'
        '[typed]\nengine = "wan-vace"\nbuilder = "tiny-vace"\nwindow = "nine"\n'
        '[lacking]\nengine = "wan-vace"\nbuilder = "tiny-vace"\ncontrols = ["normal"]\n'
    )
    for name, message in (("typo", "windw: unknown key"), ("typed", "window = 'nine'"), ("lacking", "not VACE controls")):
        model_set = get_model_set(name, tmp_path)
        with pytest.raises(EngineError, match=f"model set '{name}'.*{message}"):
            engine_factory(model_set.engine).capabilities(model_set, tmp_path)


class MemoryCheckpoint:
    """A checkpoint kept in memory, copied in and out as the file store does."""

    def __init__(self) -> None:
        self.state: dict[str, np.ndarray] | None = None
        self.saves = 0

    def load(self) -> dict[str, np.ndarray] | None:
        return None if self.state is None else {k: v.copy() for k, v in self.state.items()}

    def save(self, state: dict[str, np.ndarray]) -> None:
        self.state, self.saves = {k: np.array(v, copy=True) for k, v in state.items()}, self.saves + 1


def test_a_paint_resumed_from_its_checkpoint_gives_the_same_frames(setup: tuple[Engine, Capabilities]) -> None:
    engine, _ = setup
    frames = 12  # two windows on every tiny set
    request = make_request(num_frames=frames, steps=10, controls={"depth": blob(frames)})
    whole = paint(engine, request)
    checkpoint = MemoryCheckpoint()
    yielded: dict[int, np.ndarray] = {}
    totals: list[int] = []

    def stop_at_the_last_step(done: int, total: int) -> None:
        totals.append(total)
        if done == total:
            raise Cancelled  # as a shutdown would, after the state was saved

    with pytest.raises(Cancelled):
        for chunk in engine.paint(replace(request, checkpoint=checkpoint), stop_at_the_last_step):
            yielded.update({chunk.start + i: f for i, f in enumerate(chunk.frames)})
    assert checkpoint.saves >= 1
    steps_then: list[int] = []
    resumed = list(engine.paint(replace(request, checkpoint=checkpoint), lambda d, t: steps_then.append(d)))
    assert steps_then[0] > 1 and steps_then[-1] == totals[-1], "the resumed paint counts on from its state"
    for chunk in resumed:
        yielded.update({chunk.start + i: f for i, f in enumerate(chunk.frames)})
    assert sorted(yielded) == list(range(frames))
    assert np.array_equal(np.stack([yielded[i] for i in range(frames)]), whole)
    other = MemoryCheckpoint()
    other.state = checkpoint.state
    another = replace(request, seed=9)
    assert np.array_equal(paint(engine, replace(another, checkpoint=other)), paint(engine, another)), (
        "the state of another request is ignored"
    )
