"""The `wan-vace` engine end to end on the tiny random-weight VACE (CPU, 32-48 px, 2 steps).

The tiny set is built into a temporary data directory and loaded through the
same `from_pretrained` code as the real checkpoints. Each job kind is checked for
what the product relies on: frame count and size kept, same seed -> same frames,
and (for edits) the parent take's pixels outside the edit.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DataDirFactory
from diffusers import WanVACEPipeline
from peft import LoraConfig, get_peft_model_state_dict

from underpaint.engines.base import (
    Cancelled,
    ControlSetting,
    EngineError,
    PaintRequest,
    PromptSpan,
    StyleRef,
    available,
)
from underpaint.engines.compile import cache_folder
from underpaint.engines.registry import ModelSet, engine_factory, get_model_set, load_engine
from underpaint.engines.wan_vace.cache import computed_steps
from underpaint.engines.wan_vace.engine import WanVaceEngine
from underpaint.takes.composite import composite, feathered_alpha

HEIGHT, WIDTH = 32, 40  # 40 is not a multiple of 16: every paint exercises the size padding


@pytest.fixture(scope="module")
def data_dir(data_dirs: DataDirFactory) -> Path:
    folder = data_dirs("data")
    # A one-window variant of the tiny set, for the 4k+1 padding case (and a fixed flow shift).
    (folder / "models.toml").write_text(
        '[tiny-vace-13]\nengine = "wan-vace"\nbuilder = "tiny-vace"\nwindow = 13\noverlap = 5\nflow_shift = 5.0\n'
    )
    return folder


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> WanVaceEngine:
    return load_engine("tiny-vace", data_dir, device="cpu")


def depth_video(frames: int, seed: int = 1) -> np.ndarray:
    """A smooth moving gradient, so that neighbouring frames are alike as real depth is."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    t = np.arange(frames)[:, None, None]
    rng = np.random.default_rng(seed)
    value = 128 + 100 * np.sin((x + 2 * t) / 7.0 + rng.uniform(0, 6)) * np.cos(y / 9.0)
    return np.repeat(value[..., None], 3, axis=-1).astype(np.uint8)


def request(frames: int = 6, seed: int = 3, **changes: object) -> PaintRequest:
    fields = dict(
        prompts=[PromptSpan(0, "a painted fox")],
        width=WIDTH,
        height=HEIGHT,
        num_frames=frames,
        steps=2,
        guidance=5.0,
        seed=seed,
        controls={"depth": depth_video(frames)},
    )
    fields.update(changes)
    return PaintRequest(**fields)


def paint(engine: WanVaceEngine, req: PaintRequest) -> np.ndarray:
    """Every frame of the request, checking that the chunks arrive in order and tile it exactly."""
    chunks = list(engine.paint(req, lambda done, total: None))
    assert [c.start for c in chunks] == np.cumsum([0] + [len(c.frames) for c in chunks[:-1]]).tolist()
    return np.concatenate([c.frames for c in chunks])


def edit(parent: np.ndarray, mask: np.ndarray, seed: int = 11) -> PaintRequest:
    return request(len(parent), seed=seed, known=parent, repaint_mask=mask.astype(np.float32))


def composited(parent: np.ndarray, painted: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The take store's final composite of an edit (feathered inside the mask), frame by frame."""
    alphas = [feathered_alpha(m.astype(np.float32), 2) for m in mask]
    return np.stack([composite(p, q, a) for p, q, a in zip(parent, painted, alphas, strict=True)])


@pytest.fixture(scope="module")
def parent(engine: WanVaceEngine) -> np.ndarray:
    """A 12-frame take to edit (two windows of the tiny set)."""
    return paint(engine, request(12))


def test_stylize_keeps_frames_and_size_and_follows_the_seed(engine: WanVaceEngine) -> None:
    steps: list[tuple[int, int]] = []
    req = request(20)
    chunks = list(engine.paint(req, lambda done, total: steps.append((done, total))))
    frames = np.concatenate([c.frames for c in chunks])
    assert frames.shape == (20, HEIGHT, WIDTH, 3) and frames.dtype == np.uint8
    assert [c.start for c in chunks] == [0, 9, 13, 17]  # windows of 9 overlapping by 5
    # on_step fires after every step of every window, counting across the whole request.
    total = len(chunks) * req.steps
    assert steps == [(i, total) for i in range(1, total + 1)]
    assert engine.work_units(req) == sum(w.length for w in engine.windows(req)) * req.steps
    assert engine.pipe.scheduler.config.flow_shift == 3.0  # small frames: the 480p shift
    assert np.array_equal(paint(engine, request(20)), frames)
    assert not np.array_equal(paint(engine, request(20, seed=4)), frames)


def test_ten_frame_shot_pads_to_4k_plus_1_and_trims_the_padding_off(data_dir: Path) -> None:
    one_window = load_engine("tiny-vace-13", data_dir, device="cpu")
    ten = request(10)
    assert [w.length for w in one_window.windows(ten)] == [13]
    painted = paint(one_window, ten)
    assert painted.shape == (10, HEIGHT, WIDTH, 3)
    assert one_window.pipe.scheduler.config.flow_shift == 5.0  # the set's own shift beats the 480p default
    # The padding repeats the last frame after the shot; trimmed off, the 10 frames are the first 10 of
    # a 13-frame shot that really ends in those repeats: frame i of the output is frame i of the shot.
    held = np.concatenate([ten.controls["depth"], np.repeat(ten.controls["depth"][-1:], 3, axis=0)])
    assert np.array_equal(paint(one_window, request(13, controls={"depth": held}))[:10], painted)


def test_ten_frame_shot_across_windows_comes_back_whole(engine: WanVaceEngine) -> None:
    assert paint(engine, request(10)).shape == (10, HEIGHT, WIDTH, 3)


def test_rerender_range_keeps_the_parent_outside_the_range(engine: WanVaceEngine, parent: np.ndarray) -> None:
    mask = np.zeros(parent.shape[:3], bool)
    mask[4:8] = True
    new = paint(engine, edit(parent, mask))
    assert new.shape == parent.shape
    assert np.array_equal(new[~mask], parent[~mask])
    assert not np.array_equal(new[4:8], parent[4:8])
    take = composited(parent, new, mask)
    assert np.array_equal(take[~mask], parent[~mask]) and np.array_equal(take[4:8], new[4:8])
    assert np.array_equal(paint(engine, edit(parent, mask)), new)
    assert not np.array_equal(paint(engine, edit(parent, mask, seed=12))[4:8], new[4:8])


def test_rerender_is_conditioned_on_the_parent_frames_around_the_range(
    engine: WanVaceEngine, parent: np.ndarray
) -> None:
    mask = np.zeros(parent.shape[:3], bool)
    mask[4:8] = True
    other_parent = parent.copy()
    other_parent[:4] = 255 - other_parent[:4]
    # VACE sees the kept frames: different context before the range paints the range differently.
    assert not np.array_equal(
        paint(engine, edit(other_parent, mask))[4:8], paint(engine, edit(parent, mask))[4:8]
    )


def test_refine_with_an_object_mask_keeps_every_pixel_outside_it(
    engine: WanVaceEngine, parent: np.ndarray
) -> None:
    mask = np.zeros(parent.shape[:3], bool)
    mask[:, 8:24, 10:30] = True  # an object's silhouette, in every frame
    new = paint(engine, edit(parent, mask))
    assert new.shape == parent.shape
    assert np.array_equal(new[~mask], parent[~mask])
    assert (new[mask] != parent[mask]).mean() > 0.5
    take = composited(parent, new, mask)
    assert np.array_equal(take[~mask], parent[~mask]) and (take[mask] != parent[mask]).mean() > 0.5
    assert np.array_equal(paint(engine, edit(parent, mask)), new)


def test_pose_over_depth_and_control_strength_change_the_painting(engine: WanVaceEngine) -> None:
    depth_only = paint(engine, request())
    pose = np.zeros_like(depth_video(6))
    pose[:, 10:22, 18:22] = (255, 0, 85)  # a limb
    with_pose = paint(engine, request(controls={"depth": depth_video(6), "pose": pose}))
    assert not np.array_equal(with_pose, depth_only)
    weak = paint(engine, request(control_settings={"depth": ControlSetting(weight=0.3)}))
    assert not np.array_equal(weak, depth_only)
    early = paint(engine, request(control_settings={"depth": ControlSetting(end=0.5)}))
    assert not np.array_equal(early, depth_only)
    # The per-step control hook is gone afterwards.
    assert np.array_equal(paint(engine, request()), depth_only)


def test_video_to_video_starts_from_the_colour_render(engine: WanVaceEngine) -> None:
    colour = np.zeros((12, HEIGHT, WIDTH, 3), np.uint8)
    colour[..., 2] = 200
    steps: list[tuple[int, int]] = []
    req = request(12, steps=4, init_video=colour, strength=0.5)
    chunks = list(engine.paint(req, lambda done, total: steps.append((done, total))))
    painted = np.concatenate([c.frames for c in chunks])
    assert painted.shape == (12, HEIGHT, WIDTH, 3)
    # Half the schedule, in each of the two windows.
    assert steps == [(i, 4) for i in range(1, 5)] and engine.work_units(req) == 2 * 9 * 2
    assert np.array_equal(paint(engine, request(12, steps=4, init_video=colour, strength=0.5)), painted)
    assert not np.array_equal(paint(engine, request(12, steps=4, init_video=colour, strength=1.0)), painted)
    assert not np.array_equal(paint(engine, request(12, steps=4)), painted)


def test_reference_images_steer_without_adding_frames(engine: WanVaceEngine) -> None:
    plain = paint(engine, request())
    art = np.zeros((20, 28, 3), np.uint8)
    art[..., 0] = 220
    guided = paint(engine, request(reference_images=[art]))
    assert guided.shape == plain.shape
    assert not np.array_equal(guided, plain)


def test_wan_lora_changes_the_painting_and_unloads(engine: WanVaceEngine, tmp_path: Path) -> None:
    plain = paint(engine, request())
    transformer = WanVACEPipeline.from_pretrained(engine.source).transformer
    transformer.add_adapter(LoraConfig(r=4, init_lora_weights=False, target_modules=["to_q", "to_k", "to_v"]))
    WanVACEPipeline.save_lora_weights(
        tmp_path, transformer_lora_layers=get_peft_model_state_dict(transformer)
    )
    lora = StyleRef(path=str(tmp_path / "pytorch_lora_weights.safetensors"), weight=1.0, name="ink")
    styled = paint(engine, request(styles=[lora]))
    assert not np.array_equal(styled, plain)
    assert np.array_equal(paint(engine, request()), plain)
    with pytest.raises(EngineError, match="trained on model set 'sd15'"):
        paint(engine, request(styles=[StyleRef(path=lora.path, name="sd look", base_model="sd15")]))


def test_cancel_propagates_and_leaves_the_engine_clean(engine: WanVaceEngine) -> None:
    plain = paint(engine, request(control_settings={"depth": ControlSetting(end=0.5)}))

    def cancel(done: int, total: int) -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        list(engine.paint(request(control_settings={"depth": ControlSetting(end=0.5)}), cancel))
    assert np.array_equal(paint(engine, request(control_settings={"depth": ControlSetting(end=0.5)})), plain)


def test_missing_weights_are_an_error_naming_the_pull_command(data_dir: Path) -> None:
    absent = ModelSet(
        name="vace-elsewhere", engine="wan-vace", components={"pipeline": "nobody/no-such-vace"}
    )
    factory = engine_factory("wan-vace")
    assert not available(factory, absent, data_dir)
    assert available(factory, get_model_set("tiny-vace", data_dir), data_dir)
    with pytest.raises(EngineError, match="underpaint models pull vace-elsewhere"):
        WanVaceEngine(absent, data_dir=data_dir, device="cpu")


def test_the_draft_lora_is_loaded_for_a_draft_only_and_a_missing_one_names_the_pull(
    engine: WanVaceEngine, data_dir: Path
) -> None:
    final = paint(engine, request(steps=4, guidance=1.0))
    draft = paint(engine, request(steps=4, guidance=1.0, draft=True))
    assert not np.array_equal(draft, final) and engine.pipe.get_list_adapters() == {}
    assert np.array_equal(paint(engine, request(steps=4, guidance=1.0)), final), "unloaded after the draft"
    elsewhere = ModelSet(
        name="vace-draft-elsewhere", engine="wan-vace",
        components={"builder": "tiny-vace", "draft": {"lora": {"repo": "nobody/no-such-lora", "path": "d.safetensors"}}},
    )
    lacking = WanVaceEngine(elsewhere, data_dir=data_dir, device="cpu")
    with pytest.raises(EngineError, match=r"nobody/no-such-lora/d\.safetensors.*models pull vace-draft-elsewhere"):
        paint(lacking, request(steps=4, guidance=1.0, draft=True))


def test_the_colour_render_and_reference_images_are_not_given_together(engine: WanVaceEngine) -> None:
    # The checks every engine shares are the conformance suite's; this one is VACE's own.
    both = request(init_video=depth_video(6), reference_images=[np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(EngineError, match="not both"):
        list(engine.paint(both, lambda done, total: None))


def test_the_step_cache_skips_attention_as_it_claims_and_stays_close(engine: WanVaceEngine) -> None:
    """TaylorSeer computes attention on `computed_steps` of the steps (counted, per guidance branch and
    window), paints the same frames otherwise within a stated tolerance, and leaves nothing behind."""
    attention = engine.pipe.transformer.blocks[1].attn1.to_q
    calls = [0]
    handle = attention.register_forward_hook(lambda *args: calls.__setitem__(0, calls[0] + 1))
    steps, frames = 12, 6  # one window of the tiny set; guidance 5 runs two branches per step
    try:
        plain = paint(engine, request(frames, steps=steps))
        plain_calls, calls[0] = calls[0], 0
        cached = paint(engine, request(frames, steps=steps, cache=True))
        cached_calls, calls[0] = calls[0], 0
        again = paint(engine, request(frames, steps=steps))
    finally:
        handle.remove()
    assert plain_calls == 2 * steps
    assert cached_calls == 2 * computed_steps(steps) == 2 * 5  # steps 0-2, 4 and 9
    assert cached.shape == plain.shape and not np.array_equal(cached, plain)
    # The tolerance on the tiny set (random weights, 12 steps): a mean under 0.1 and a largest difference
    # under 16 levels of 255 (measured: 0.006 and 3; at 30 steps 0.0001 and 1).
    difference = np.abs(cached.astype(int) - plain.astype(int))
    assert difference.mean() < 0.1 and difference.max() < 16
    assert np.array_equal(again, plain) and calls[0] == 2 * steps  # the cache is gone after the job



def test_compiled_blocks_paint_like_eager_and_compile_once_per_shape(engine: WanVaceEngine, data_dir: Path) -> None:
    """Regional compilation (`compile = "always"`: on the CPU too): each block class compiled in place,
    the painting as the eager one's within float reordering, a second job of the shape not compiled again,
    inductor's caches in the data dir."""
    compiled_set = ModelSet(
        name="tiny-vace-compiled", engine="wan-vace", components={"builder": "tiny-vace", "compile": "always"}
    )
    assert not engine_factory("wan-vace").capabilities(compiled_set, data_dir).cache, "no step cache with it"
    compiled = WanVaceEngine(compiled_set, data_dir=data_dir, device="cpu")
    blocks = [b for b in compiled.pipe.transformer.modules() if type(b).__name__ in ("WanTransformerBlock",
                                                                                      "WanVACETransformerBlock")]
    assert blocks and all(b._compiled_call_impl is not None for b in blocks)
    eager = paint(engine, request())
    torch._dynamo.utils.counters.clear()
    first = paint(compiled, request())
    graphs = torch._dynamo.utils.counters["stats"]["unique_graphs"]
    assert graphs > 0
    assert np.abs(first.astype(int) - eager).max() <= 2
    assert np.array_equal(paint(compiled, request(seed=4)), paint(compiled, request(seed=4)))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == graphs, "the same shape compiled again"
    # Inductor's caches where the data dir keeps them (unless the environment named a folder before).
    assert any(Path(os.environ.get("TORCHINDUCTOR_CACHE_DIR", cache_folder(data_dir))).iterdir())
