"""Loading model sets: hub ids from the local cache only, folders, single files, and clear errors."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import huggingface_hub
import numpy as np
import pytest
from diffusers import ControlNetModel, MotionAdapter, StableDiffusionPipeline
from safetensors.torch import save_file

from underpaint.engines.animatediff.availability import missing
from underpaint.engines.animatediff.config import parse_settings
from underpaint.engines.animatediff.loading import pull
from underpaint.engines.animatediff.tiny import ensure_tiny_models
from underpaint.engines.base import EngineError, PaintRequest, PromptSpan
from underpaint.engines.registry import get_model_set, load_engine

SIZE = 32
SCHEDULER = (
    '{ beta_schedule = "linear", clip_sample = false, timestep_spacing = "linspace", steps_offset = 1 }'
)


def user_sets(data_dir: Path, text: str) -> None:
    (data_dir / "models.toml").write_text(text)


def request() -> PaintRequest:
    depth = np.zeros((2, SIZE, SIZE, 3), np.uint8)
    depth[:, 8:24, 8:24] = 200
    return PaintRequest(
        prompts=[PromptSpan(0, "a fox")],
        width=SIZE,
        height=SIZE,
        num_frames=2,
        steps=2,
        controls={"depth": depth},
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
        (
            'base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }\nwindows = 3',
            "windows: unknown key",
        ),
        (
            'base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }\nwindow = 4\noverlap = 4',
            "overlap",
        ),
        ('base = "a/b"\nmotion_adapter = "c/d"\ncontrolnets = { canny = "e/f" }', "unknown controls"),
        ('base = "a/b"\nmotion_adapter = "c/d"', "controlnets"),
        (
            'base = "model.safetensors"\nmotion_adapter = "c/d"\ncontrolnets = { depth = "e/f" }',
            "single file",
        ),
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


# A checkpoint "as users download them": the original Stable Diffusion (LDM) layout in one file.
RESNET = (
    ("norm1", "in_layers.0"),
    ("conv1", "in_layers.2"),
    ("norm2", "out_layers.0"),
    ("conv2", "out_layers.3"),
    ("time_emb_proj", "emb_layers.1"),
    ("conv_shortcut", "skip_connection"),
)
UNET_ENDS = {
    "conv_in": "input_blocks.0.0",
    "time_embedding.linear_1": "time_embed.0",
    "time_embedding.linear_2": "time_embed.2",
    "conv_norm_out": "out.0",
    "conv_out": "out.2",
}


def _resnet(rest: str) -> str:
    return next((theirs + rest[len(ours) :] for ours, theirs in RESNET if rest.startswith(ours + ".")), rest)


def ldm_unet_key(key: str, layers: int, attention_levels: set[int]) -> str:
    """diffusers UNet key -> LDM key; `layers` resnets per level, LDM numbers blocks (layers + 1) per level."""
    for ours, theirs in UNET_ENDS.items():
        if key.startswith(ours + "."):
            return theirs + key[len(ours) :]
    middle = re.match(r"mid_block\.(resnets|attentions)\.(\d+)\.(.*)", key)
    if middle:
        kind, index, rest = middle[1], int(middle[2]), middle[3]
        return f"middle_block.{2 * index}.{_resnet(rest)}" if kind == "resnets" else f"middle_block.1.{rest}"
    side, level, kind, index, rest = re.match(r"(down|up)_blocks\.(\d+)\.(\w+)\.(\d+)\.(.*)", key).groups()
    level, index = int(level), int(index)
    if kind == "downsamplers":
        return f"input_blocks.{(layers + 1) * (level + 1)}.0.op.{rest.removeprefix('conv.')}"
    if kind == "upsamplers":
        return f"output_blocks.{(layers + 1) * level + layers}.{2 if level in attention_levels else 1}.{rest}"
    if side == "down":
        block = f"input_blocks.{(layers + 1) * level + index + 1}"
    else:
        block = f"output_blocks.{(layers + 1) * level + index}"
    return f"{block}.0.{_resnet(rest)}" if kind == "resnets" else f"{block}.1.{rest}"


def ldm_vae_key(key: str, levels: int) -> str:
    key = key.replace("conv_shortcut", "nin_shortcut").replace("conv_norm_out", "norm_out")
    key = re.sub(r"encoder\.down_blocks\.(\d+)\.resnets\.", r"encoder.down.\1.block.", key)
    key = re.sub(r"encoder\.down_blocks\.(\d+)\.downsamplers\.0\.", r"encoder.down.\1.downsample.", key)
    # LDM numbers the decoder's levels from the bottom, diffusers from the top
    up = r"decoder\.up_blocks\.(\d+)\."
    key = re.sub(up + r"resnets\.", lambda m: f"decoder.up.{levels - 1 - int(m[1])}.block.", key)
    key = re.sub(up + r"upsamplers\.0\.", lambda m: f"decoder.up.{levels - 1 - int(m[1])}.upsample.", key)
    key = re.sub(r"mid_block\.resnets\.(\d+)\.", lambda m: f"mid.block_{int(m[1]) + 1}.", key)
    key = key.replace("mid_block.attentions.0.", "mid.attn_1.")
    attention = (
        ("group_norm.", "norm."),
        ("to_q.", "q."),
        ("to_k.", "k."),
        ("to_v.", "v."),
        ("to_out.0.", "proj_out."),
    )
    for ours, theirs in attention:
        key = key.replace("attn_1." + ours, "attn_1." + theirs)
    return key


def write_ldm_checkpoint(base: Path, path: Path) -> Path:
    pipe = StableDiffusionPipeline.from_pretrained(base)
    config = pipe.unet.config
    attention = {i for i, kind in enumerate(config.up_block_types) if "CrossAttn" in kind}
    tensors = {
        "model.diffusion_model." + ldm_unet_key(k, config.layers_per_block, attention): v
        for k, v in pipe.unet.state_dict().items()
    }
    for k, v in pipe.vae.state_dict().items():
        key = ldm_vae_key(k, len(pipe.vae.config.block_out_channels))
        # LDM's VAE attention projections are 1x1 convolutions
        conv = re.search(r"attn_1\.(q|k|v|proj_out)\.weight", key)
        tensors["first_stage_model." + key] = v[..., None, None] if conv else v
    text = pipe.text_encoder.state_dict()
    tensors.update({"cond_stage_model.transformer.text_model." + k: v for k, v in text.items()})
    save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    return path


def test_a_base_checkpoint_file_loads_through_from_single_file_and_paints_like_the_folder(
    tmp_path: Path,
) -> None:
    tiny = ensure_tiny_models(tmp_path)
    write_ldm_checkpoint(tiny / "base", tmp_path / "tiny-sd15.safetensors")
    user_sets(
        tmp_path,
        f"""
[tiny-checkpoint]
engine = "animatediff"
base = {{ path = "{{data_dir}}/tiny-sd15.safetensors", config = "{{data_dir}}/models/tiny/base" }}
motion_adapter = "{{data_dir}}/models/tiny/motion_adapter"
window = 8
overlap = 2
scheduler_options = {SCHEDULER}
controlnets = {{ depth = "{{data_dir}}/models/tiny/controlnet_depth" }}
""",
    )
    from_file = paint(load_engine("tiny-checkpoint", tmp_path, device="cpu"))
    np.testing.assert_array_equal(from_file, paint(load_engine("tiny", tmp_path, device="cpu")))


def test_pull_builds_what_a_set_builds_and_then_nothing_is_missing(tmp_path: Path) -> None:
    settings = parse_settings(get_model_set("tiny", tmp_path), tmp_path)
    assert set(missing(settings)) == {
        "base",
        "motion_adapter",
        "controlnet.depth",
        "controlnet.normal",
        "controlnet.pose",
        "controlnet.edges",
        "draft.motion_adapter",
    }
    logged: list[str] = []
    pull(settings, tmp_path, log=logged.append)
    assert missing(settings) == {} and logged == [f"tiny: building the tiny models in {tmp_path}"]


def test_a_draft_module_inside_a_hub_repository_is_read_from_the_cache_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`{ repo, path }` names one file of a hub repository (as AnimateDiff-Lightning ships): found in the
    Hugging Face cache's own layout, else missing with the pull command."""
    tiny = ensure_tiny_models(tmp_path)
    cache = tmp_path / "hub"
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    user_sets(
        tmp_path,
        f"""
[hub-draft]
engine = "animatediff"
base = "{{data_dir}}/models/tiny/base"
motion_adapter = "{{data_dir}}/models/tiny/motion_adapter"
window = 8
overlap = 2
scheduler_options = {SCHEDULER}

[hub-draft.controlnets]
depth = "{{data_dir}}/models/tiny/controlnet_depth"

[hub-draft.draft]
motion_adapter = {{ repo = "acme/lightning", path = "lightning_4step.safetensors", config = "{{data_dir}}/models/tiny/draft_motion_adapter_config" }}
""",
    )
    settings = parse_settings(get_model_set("hub-draft", tmp_path), tmp_path)
    assert set(missing(settings)) == {"draft.motion_adapter"}
    with pytest.raises(EngineError, match=r"acme/lightning/lightning_4step\.safetensors.*models pull hub-draft"):
        load_engine("hub-draft", tmp_path, device="cpu")
    snapshot = cache / "models--acme--lightning" / "snapshots" / ("0" * 40)
    snapshot.mkdir(parents=True)
    (snapshot / "lightning_4step.safetensors").write_bytes((tiny / "draft_motion_adapter.safetensors").read_bytes())
    (cache / "models--acme--lightning" / "refs").mkdir()
    (cache / "models--acme--lightning" / "refs" / "main").write_text("0" * 40)
    assert missing(settings) == {}
    engine = load_engine("hub-draft", tmp_path, device="cpu")
    assert engine.capabilities.draft is not None
    draft = replace(request(), steps=4, guidance=1.0, draft=True)
    painted = np.concatenate([c.frames for c in engine.paint(draft, lambda done, total: None)])
    assert painted.shape == (2, SIZE, SIZE, 3)
