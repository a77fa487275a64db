"""The `tiny` model set: built once into the data dir in diffusers layout, deterministic, loadable like real sets."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from diffusers import AutoencoderKL, ControlNetModel, MotionAdapter, UNet2DConditionModel
from transformers import CLIPTokenizer

from underpaint.engines import builds
from underpaint.engines.animatediff import tiny
from underpaint.engines.animatediff.availability import is_available
from underpaint.engines.animatediff.config import parse_settings
from underpaint.engines.animatediff.loading import load_components
from underpaint.engines.base import CONTROL_TYPES
from underpaint.engines.registry import get_model_set


def test_builds_every_model_in_diffusers_layout(tmp_path: Path) -> None:
    folder = tiny.ensure_tiny_models(tmp_path)
    assert folder == tmp_path / "models" / "tiny"
    index = json.loads((folder / "base" / "model_index.json").read_text())
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["tokenizer"] == ["transformers", "CLIPTokenizer"]
    for sub in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert (folder / "base" / sub).is_dir()
    assert isinstance(
        UNet2DConditionModel.from_pretrained(folder / "base", subfolder="unet"), UNet2DConditionModel
    )
    assert isinstance(MotionAdapter.from_pretrained(folder / "motion_adapter"), MotionAdapter)
    for control in CONTROL_TYPES:
        assert isinstance(ControlNetModel.from_pretrained(folder / f"controlnet_{control}"), ControlNetModel)


def test_tokenizer_is_written_locally_and_pads_to_77(tmp_path: Path) -> None:
    folder = tiny.ensure_tiny_models(tmp_path) / "base" / "tokenizer"
    assert (folder / "vocab.json").is_file() and (folder / "merges.txt").is_file()
    tokenizer = CLIPTokenizer.from_pretrained(folder)
    ids = tokenizer("a painted fox, ünïcödé too", padding="max_length", truncation=True).input_ids
    assert tokenizer.model_max_length == 77 and len(ids) == 77
    assert ids[0] == tokenizer.bos_token_id and tokenizer.unk_token_id not in ids[1:27]


def test_built_once_then_reused(tmp_path: Path) -> None:
    folder = tiny.ensure_tiny_models(tmp_path)
    weights = folder / "base" / "unet" / "diffusion_pytorch_model.safetensors"
    before = weights.stat().st_mtime_ns
    assert tiny.ensure_tiny_models(tmp_path) == folder
    assert weights.stat().st_mtime_ns == before


def test_rebuilt_when_the_builder_changed(tmp_path: Path) -> None:
    folder = tiny.ensure_tiny_models(tmp_path)
    (folder / builds.STAMP).write_text("0\n")
    (folder / "leftover").write_text("from an old build")
    tiny.ensure_tiny_models(tmp_path)
    assert (folder / builds.STAMP).read_text().strip() == tiny.TINY_VERSION
    assert not (folder / "leftover").exists()


def test_same_weights_on_every_build(tmp_path: Path) -> None:
    first = tiny.ensure_tiny_models(tmp_path / "a")
    second = tiny.ensure_tiny_models(tmp_path / "b")
    for sub in ("base/unet", "motion_adapter", "controlnet_pose"):
        a = (first / sub / "diffusion_pytorch_model.safetensors").read_bytes()
        b = (second / sub / "diffusion_pytorch_model.safetensors").read_bytes()
        assert a == b, sub


def test_vae_has_a_trained_vaes_latent_statistics(tmp_path: Path) -> None:
    vae = AutoencoderKL.from_pretrained(tiny.ensure_tiny_models(tmp_path) / "base" / "vae")
    images = torch.rand((3, 3, 64, 64), generator=torch.Generator().manual_seed(1)) * 2 - 1
    with torch.no_grad():
        posterior = vae.encode(images).latent_dist
    assert posterior.std.max() < 1e-3
    assert 0.5 < (posterior.mean * vae.config.scaling_factor).std() < 2.0


def test_registered_as_model_set_tiny_and_loaded_by_the_common_loader(tmp_path: Path) -> None:
    settings = parse_settings(get_model_set("tiny", tmp_path), tmp_path)
    assert settings.builder == "tiny" and set(settings.controlnets) == set(CONTROL_TYPES)
    tiny.ensure_tiny_models(tmp_path)
    assert all(is_available(source, role) for role, source in settings.sources().items())
    components = load_components(settings, torch.float32)
    assert type(components.unet).__name__ == "UNetMotionModel"
    assert type(components.scheduler).__name__ == "DDIMScheduler"
    assert components.scheduler.config.beta_schedule == "linear"
