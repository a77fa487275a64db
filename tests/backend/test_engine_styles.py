"""LoRA styles in the animatediff engine: peft and kohya files, weights, and a clean unload after each job."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import DataDirFactory
from diffusers import StableDiffusionPipeline, UNet2DConditionModel
from diffusers.utils import convert_state_dict_to_diffusers
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors.torch import save_file

from underpaint.engines.animatediff.engine import AnimateDiffEngine
from underpaint.engines.animatediff.tiny import ensure_tiny_models
from underpaint.engines.base import EngineError, PaintRequest, PromptSpan, StyleRef
from underpaint.engines.registry import load_engine

SIZE = 32
ATTENTION = ["to_q", "to_k", "to_v", "to_out.0"]


@pytest.fixture(scope="module")
def data_dir(data_dirs: DataDirFactory) -> Path:
    return data_dirs("data")


@pytest.fixture(scope="module")
def engine(data_dir: Path) -> AnimateDiffEngine:
    return load_engine("tiny", data_dir, device="cpu")


def tiny_unet(data_dir: Path) -> UNet2DConditionModel:
    return UNet2DConditionModel.from_pretrained(ensure_tiny_models(data_dir) / "base", subfolder="unet")


@pytest.fixture(scope="module")
def peft_style(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA as diffusers' training scripts write it: a peft adapter saved with save_lora_weights."""
    unet = tiny_unet(data_dir)
    unet.add_adapter(LoraConfig(r=4, lora_alpha=4, target_modules=ATTENTION))
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, parameter in unet.named_parameters():
            if "lora_B" in name:  # peft starts B at zero (no change); a trained LoRA has moved away from it
                parameter.copy_(torch.randn(parameter.shape, generator=generator) * 0.5)
    folder = tmp_path_factory.mktemp("peft")
    layers = convert_state_dict_to_diffusers(get_peft_model_state_dict(unet))
    StableDiffusionPipeline.save_lora_weights(folder, unet_lora_layers=layers, weight_name="ink.safetensors")
    return folder / "ink.safetensors"


def kohya_file(data_dir: Path, path: Path, rank: int = 4, width_offset: int = 0) -> Path:
    """A LoRA in the kohya layout: `lora_unet_<module path with _>.lora_down/.lora_up/.alpha`."""
    generator = torch.Generator().manual_seed(5)
    tensors = {}
    for name, module in tiny_unet(data_dir).named_modules():
        if not (isinstance(module, torch.nn.Linear) and name.split(".attn")[-1][2:] in ATTENTION):
            continue
        key = "lora_unet_" + name.replace(".", "_")
        tensors[f"{key}.lora_down.weight"] = torch.randn(
            (rank, module.in_features + width_offset), generator=generator
        )
        tensors[f"{key}.lora_up.weight"] = torch.randn((module.out_features, rank), generator=generator) * 0.5
        tensors[f"{key}.alpha"] = torch.tensor(float(rank))
    assert tensors, "the tiny UNet has attention layers to adapt"
    save_file(tensors, path)
    return path


def request(**changes: object) -> PaintRequest:
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    depth = np.repeat(((x + y) * 255 // (2 * SIZE)).astype(np.uint8)[None, ..., None], 3, axis=-1)
    options: dict[str, object] = dict(
        prompts=[PromptSpan(0, "a fox")],
        width=SIZE,
        height=SIZE,
        num_frames=2,
        steps=2,
        seed=1,
        controls={"depth": np.repeat(depth, 2, axis=0)},
    )
    options.update(changes)
    return PaintRequest(**options)  # type: ignore[arg-type]


def paint(engine: AnimateDiffEngine, req: PaintRequest) -> np.ndarray:
    return np.concatenate([c.frames for c in engine.paint(req, lambda done, total: None)]).astype(int)


def test_a_peft_lora_changes_the_frames_and_unloading_restores_them(
    engine: AnimateDiffEngine, peft_style: Path
) -> None:
    plain = paint(engine, request())
    styled = paint(engine, request(styles=[StyleRef(str(peft_style), 1.0, "ink")]))
    assert np.abs(styled - plain).mean() > 2
    np.testing.assert_array_equal(paint(engine, request()), plain)
    assert not getattr(engine.components.unet, "peft_config", None), "no adapter is left behind"


def test_style_weight_scales_the_change(engine: AnimateDiffEngine, peft_style: Path) -> None:
    plain = paint(engine, request())
    change = {
        weight: np.abs(paint(engine, request(styles=[StyleRef(str(peft_style), weight)])) - plain).mean()
        for weight in (0.0, 0.3, 1.0)
    }
    assert change[0.0] == 0
    assert 0 < change[0.3] < change[1.0]


def test_a_kohya_lora_loads_and_combines_with_another(
    engine: AnimateDiffEngine, peft_style: Path, data_dir: Path, tmp_path: Path
) -> None:
    kohya = kohya_file(data_dir, tmp_path / "kohya_style.safetensors")
    plain = paint(engine, request())
    alone = paint(engine, request(styles=[StyleRef(str(kohya), 0.8)]))
    both = paint(engine, request(styles=[StyleRef(str(kohya), 0.8), StyleRef(str(peft_style), 0.5)]))
    assert np.abs(alone - plain).mean() > 2
    assert np.abs(both - alone).mean() > 1
    np.testing.assert_array_equal(paint(engine, request()), plain)


def test_a_lora_for_another_base_model_is_a_clear_error_and_leaves_no_trace(
    engine: AnimateDiffEngine, data_dir: Path, tmp_path: Path
) -> None:
    wrong = kohya_file(data_dir, tmp_path / "other_base.safetensors", width_offset=8)
    plain = paint(engine, request())
    with pytest.raises(EngineError, match="does not fit model set 'tiny'"):
        paint(engine, request(styles=[StyleRef(str(wrong), 1.0, "other")]))
    np.testing.assert_array_equal(paint(engine, request()), plain)


def test_a_lora_that_matches_no_layer_is_refused(engine: AnimateDiffEngine, tmp_path: Path) -> None:
    stray = tmp_path / "stray.safetensors"
    save_file({"lora_unet_no_such_block_to_q.lora_down.weight": torch.ones(4, 8)}, stray)
    with pytest.raises(EngineError, match="style"):
        paint(engine, request(styles=[StyleRef(str(stray), 1.0, "stray")]))


def test_a_style_trained_on_another_model_set_is_refused(engine: AnimateDiffEngine, peft_style: Path) -> None:
    with pytest.raises(EngineError, match="trained on model set 'sd15'"):
        engine.paint(
            request(styles=[StyleRef(str(peft_style), 1.0, "ink", base_model="sd15")]), lambda d, t: None
        )
