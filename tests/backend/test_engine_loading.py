"""Loading model sets: hub ids from the local cache only, folders, single files, and clear errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from diffusers import ControlNetModel, MotionAdapter
from safetensors.torch import save_file

from underpaint.engines.base import EngineError, PaintRequest, PromptSpan
from underpaint.engines.loading import missing, pull
from underpaint.engines.registry import get_model_set, load_engine
from underpaint.engines.settings import parse_settings
from underpaint.engines.tiny import ensure_tiny_models

SIZE = 32
SCHEDULER = '{ beta_schedule = "linear", clip_sample = false, timestep_spacing = "linspace", steps_offset = 1 }'


def user_sets(data_dir: Path, text: str) -> None:
    (data_dir / "models.toml").write_text(text)


def request() -> PaintRequest:
    depth = np.zeros((2, SIZE, SIZE, 3), np.uint8)
    depth[:, 8:24, 8:24] = 200
    return PaintRequest(
        prompts=[PromptSpan(0, "a fox")], width=SIZE, height=SIZE, num_frames=2, steps=2, controls={"depth": depth}
    )


def paint(engine: object) -> np.ndarray:
    return np.concatenate([c.frames for c in engine.paint(request(), lambda done, total: None)])  # type: ignore[attr-defined]


def test_the_default_set_is_missing_here_and_says_how_to_fetch_it(tmp_path: Path) -> None:
    with pytest.raises(EngineError) as error:
        load_engine("sd15", tmp_path)
    message = str(error.value)
    assert "stable-diffusion-v1-5/stable-diffusion-v1-5" in message
    assert "guoyww/animatediff-motion-adapter-v1-5-3" in message
    assert "`underpaint models pull sd15`" in message


def test_a_missing_local_folder_names_the_path(tmp_path: Path) -> None:
    user_sets(
        tmp_path,
        f"""
[mine]
engine = "animatediff"
base = "{tmp_path}/no/such/folder"
motion_adapter = "{tmp_path}/also/missing"
controlnets = {{ depth = "{tmp_path}/missing/too" }}
""",
    )
    with pytest.raises(EngineError, match=re.escape(f"base ({tmp_path}/no/such/folder)") + ".*fix the path"):
        load_engine("mine", tmp_path)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }\nwindows = 3', "unknown keys"),
        ('base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }\nwindow = 4\noverlap = 4', "overlap"),
        ('base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { canny = "e/f" }', "unknown control types"),
        ('base = "a/b"\nmotion_adapter = "c/d"', "controlnets"),
        ('base = "model.safetensors"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }', "single file"),
        ('base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }\ndtype = "int8"', "dtype"),
    ],
)
def test_mistakes_in_a_model_set_are_named(tmp_path: Path, table: str, message: str) -> None:
    user_sets(tmp_path, f'[broken]\nengine = "animatediff"\n{table}\n')
    with pytest.raises(EngineError, match=message):
        parse_settings(get_model_set("broken", tmp_path), tmp_path)


def test_an_unknown_scheduler_is_named(tmp_path: Path) -> None:
    tiny = ensure_tiny_models(tmp_path)
    user_sets(
        tmp_path,
        f"""
[odd]
engine = "animatediff"
base = "{tiny}/base"
motion_adapter = "{tiny}/motion_adapter"
scheduler = "NoSuchScheduler"
controlnets = {{ depth = "{tiny}/controlnet_depth" }}
""",
    )
    with pytest.raises(EngineError, match="'NoSuchScheduler' is not a diffusers scheduler"):
        load_engine("odd", tmp_path)


def original_motion_module_keys(key: str) -> str:
    """diffusers MotionAdapter key -> the key in AnimateDiff's own checkpoints (mm_sd_v15_v3 style)."""
    key = re.sub(r"(motion_modules\.\d+)\.", r"\1.temporal_transformer.", key)
    for ours, theirs in ((".norm1", ".norms.0"), (".norm2", ".norms.1"), (".norm3", ".ff_norm")):
        key = key.replace(ours, theirs)
    return key.replace(".attn1", ".attention_blocks.0").replace(".attn2", ".attention_blocks.1")


def test_single_files_load_through_from_single_file_and_paint_like_the_folders(tmp_path: Path) -> None:
    tiny = ensure_tiny_models(tmp_path)
    adapter = MotionAdapter.from_pretrained(tiny / "motion_adapter").state_dict()
    # The original layout: diffusers converts it on load (positional encodings are recomputed, not stored).
    save_file(
        {original_motion_module_keys(k): v.contiguous() for k, v in adapter.items() if "pos_embed" not in k},
        tmp_path / "mm_tiny_v3.safetensors",
    )
    depth = ControlNetModel.from_pretrained(tiny / "controlnet_depth").state_dict()
    save_file({k: v.contiguous() for k, v in depth.items()}, tmp_path / "control_tiny_depth.safetensors")
    user_sets(
        tmp_path,
        f"""
[tiny-files]
engine = "animatediff"
base = "{{data_dir}}/models/tiny/base"
motion_adapter = {{ path = "{{data_dir}}/mm_tiny_v3.safetensors", config = "{{data_dir}}/models/tiny/motion_adapter" }}
window = 8
overlap = 2
scheduler_options = {SCHEDULER}

[tiny-files.controlnets]
depth = {{ path = "{{data_dir}}/control_tiny_depth.safetensors", config = "{{data_dir}}/models/tiny/controlnet_depth" }}
""",
    )
    from_files = paint(load_engine("tiny-files", tmp_path, device="cpu"))
    from_folders = paint(load_engine("tiny", tmp_path, device="cpu"))
    np.testing.assert_array_equal(from_files, from_folders)


def test_pull_builds_what_a_set_builds_and_then_nothing_is_missing(tmp_path: Path) -> None:
    settings = parse_settings(get_model_set("tiny", tmp_path), tmp_path)
    assert set(missing(settings)) == {"base", "motion_adapter", "controlnet.depth", "controlnet.normal", "controlnet.pose"}
    logged: list[str] = []
    pull(settings, tmp_path, log=logged.append)
    assert missing(settings) == {} and logged == [f"tiny: building the tiny models in {tmp_path}"]
