"""Wan VACE layouts as code, built with random weights: the tiny test set and the real 1.3B layout.

The `tiny-vace` model set loads a folder built here through exactly the code
that loads `Wan-AI/Wan2.1-VACE-1.3B-diffusers` (`from_pretrained` of a diffusers
folder), so tests exercise the real loading and painting path without weights
or network. Every component has the real architecture, `WanVACETransformer3DModel`,
`AutoencoderKLWan`, a UMT5 encoder and a T5 (Unigram) tokenizer whose vocabulary
is written here character by character; the tiny set only shrinks the widths.
`WAN_VACE_1_3B` is the published 1.3B layout, for benchmarks with random weights.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan, UniPCMultistepScheduler, WanVACEPipeline, WanVACETransformer3DModel
from safetensors.torch import save_file
from transformers import T5Tokenizer, UMT5Config, UMT5EncoderModel

from ..builds import build_once

# Where the tiny set lives inside the data directory.
TINY_VACE_DIR = Path("models") / "tiny-vace"
# Bump when TINY_VACE or the layout changes: a folder built from another version is rebuilt.
TINY_VACE_VERSION = "3"
# The tiny set's draft LoRA, written into its folder in ComfyUI's key layout, as Wan's distillation LoRAs ship.
DRAFT_LORA = "draft_lora.safetensors"
DRAFT_LORA_RANK = 4
_SEED = 0


@dataclass(frozen=True)
class VaceArchitecture:
    """Configs of the models of a Wan VACE set."""

    transformer: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any]


_TRANSFORMER_COMMON = dict(
    patch_size=(1, 2, 2),
    in_channels=16,
    out_channels=16,
    freq_dim=256,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    # 2 x 16 latent channels (kept + repainted video) + 8 x 8 mask channels.
    vace_in_channels=96,
)
_UMT5_COMMON = dict(feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)

# Wan-AI/Wan2.1-VACE-1.3B-diffusers: transformer/config.json, vae/config.json (the AutoencoderKLWan
# defaults) and google/umt5-xxl's encoder.
WAN_VACE_1_3B = VaceArchitecture(
    transformer=dict(
        _TRANSFORMER_COMMON,
        num_attention_heads=12,
        attention_head_dim=128,
        text_dim=4096,
        ffn_dim=8960,
        num_layers=30,
        rope_max_seq_len=1024,
        eps=1e-6,
        vace_layers=list(range(0, 30, 2)),
    ),
    vae=dict(),
    text_encoder=dict(
        _UMT5_COMMON,
        vocab_size=256384,
        d_model=4096,
        d_kv=64,
        d_ff=10240,
        num_layers=24,
        num_heads=64,
        relative_attention_num_buckets=32,
        relative_attention_max_distance=128,
    ),
)

# The same layout at toy width. The VAE keeps its three downsamplings (8x in space, 4x in time), so the
# engine's padding rules are exercised as on the real model.
TINY_VACE = VaceArchitecture(
    transformer=dict(
        _TRANSFORMER_COMMON,
        num_attention_heads=2,
        attention_head_dim=12,
        text_dim=32,
        ffn_dim=32,
        num_layers=3,
        rope_max_seq_len=32,
        vace_layers=[0, 2],
    ),
    vae=dict(
        base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
    ),
    text_encoder=dict(
        _UMT5_COMMON,
        vocab_size=0,  # the tokenizer's
        d_model=32,
        d_kv=8,
        d_ff=64,
        num_layers=2,
        num_heads=4,
        relative_attention_num_buckets=8,
    ),
)


def character_tokenizer() -> T5Tokenizer:
    """A T5 tokenizer over single characters (with and without the word-start marker): any text encodes."""
    chars = string.ascii_letters + string.digits + string.punctuation
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [("\u2581" + c, -2.5) for c in chars] + [(c, -3.0) for c in chars]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


def scheduler() -> UniPCMultistepScheduler:
    """The scheduler the VACE checkpoints ship: UniPC on flow-matching sigmas."""
    return UniPCMultistepScheduler(
        num_train_timesteps=1000,
        prediction_type="flow_prediction",
        use_flow_sigmas=True,
        flow_shift=3.0,
        solver_order=2,
        final_sigmas_type="zero",
    )


def build_vace(
    architecture: VaceArchitecture, target: Path, device: str = "cpu", dtype: torch.dtype = torch.float32
) -> None:
    """Build a random-weight pipeline of `architecture` (fixed seed) and save it to `target` in diffusers layout.

    Large layouts can be built on the GPU (`device`) in bf16 (`dtype`); the VAE is always fp32.
    """
    tokenizer = character_tokenizer()
    text_config = dict(
        architecture.text_encoder, vocab_size=architecture.text_encoder["vocab_size"] or len(tokenizer)
    )
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(_SEED)
        text_encoder = UMT5EncoderModel(UMT5Config(**text_config))
        vae = AutoencoderKLWan(**architecture.vae)
        transformer = WanVACETransformer3DModel(**architecture.transformer)
    if dtype != torch.float32:
        # Half precision only halves the files; loading gives each module its dtype again.
        text_encoder, transformer = text_encoder.to(dtype), transformer.to(dtype)
    pipe = WanVACEPipeline(
        tokenizer=tokenizer,
        text_encoder=text_encoder,
        vae=vae,
        scheduler=scheduler(),
        transformer=transformer,
    )
    pipe.save_pretrained(target)


def write_draft_lora(architecture: VaceArchitecture, target: Path, rank: int = DRAFT_LORA_RANK) -> None:
    """A random LoRA on every main block's attention and feed-forward, keyed as ComfyUI's Wan LoRAs are
    (`diffusion_model.blocks.N.self_attn.q.lora_down.weight`, ...), which `load_lora_weights` converts."""
    config = architecture.transformer
    inner = config["num_attention_heads"] * config["attention_head_dim"]
    shapes = {f"{attn}.{p}": (inner, inner) for attn in ("self_attn", "cross_attn") for p in "qkvo"}
    shapes |= {"ffn.0": (inner, config["ffn_dim"]), "ffn.2": (config["ffn_dim"], inner)}
    weights: dict[str, torch.Tensor] = {}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(_SEED + 1)
        for block in range(config["num_layers"]):
            for name, (fan_in, fan_out) in shapes.items():
                key = f"diffusion_model.blocks.{block}.{name}"
                weights[f"{key}.lora_down.weight"] = torch.randn(rank, fan_in) / fan_in**0.5
                weights[f"{key}.lora_up.weight"] = torch.randn(fan_out, rank) / rank**0.5
                weights[f"{key}.alpha"] = torch.tensor(float(rank))
    save_file(weights, target)


def _build_tiny(folder: Path) -> None:
    build_vace(TINY_VACE, folder)
    write_draft_lora(TINY_VACE, folder / DRAFT_LORA)


def ensure_tiny_vace(data_dir: Path) -> Path:
    """The tiny set's folder in `data_dir` (with its draft LoRA), built on first use and again when
    `TINY_VACE_VERSION` changes (atomically: `builds.build_once`)."""
    return build_once(Path(data_dir) / TINY_VACE_DIR, TINY_VACE_VERSION, _build_tiny)
