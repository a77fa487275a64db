"""Model configurations as code: the full-size SD1.5 + AnimateDiff layouts and their tiny twins.

The full-size configs are what the public checkpoints use (the default model
set), written out so that tests and benchmarks can build random-weight models
of the real layouts without downloading anything. The tiny configs keep every
architectural choice (block types, a VAE that downsamples 8x, a ControlNet
embedding that downsamples 8x, cross-attention, motion modules) and shrink only
the widths, so tiny models run through exactly the code paths the real ones do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from diffusers import AutoencoderKL, ControlNetModel, MotionAdapter, UNet2DConditionModel, UNetMotionModel
from transformers import CLIPTextConfig, CLIPTextModel


@dataclass(frozen=True)
class Architecture:
    """Configs of every model of an SD1.5 + AnimateDiff + ControlNet set."""

    unet: dict[str, Any]
    motion_adapter: dict[str, Any]
    controlnet: dict[str, Any]
    vae: dict[str, Any]
    text_encoder: dict[str, Any]


_SD15_BLOCKS = (320, 640, 1280, 1280)
_SD15_DOWN = ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D")

SD15 = Architecture(
    # stable-diffusion-v1-5/stable-diffusion-v1-5 unet/config.json
    unet=dict(
        sample_size=64,
        in_channels=4,
        out_channels=4,
        down_block_types=_SD15_DOWN,
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=_SD15_BLOCKS,
        layers_per_block=2,
        cross_attention_dim=768,
        attention_head_dim=8,
        norm_num_groups=32,
    ),
    # guoyww/animatediff-motion-adapter-v1-5-3 config.json (v3 has no motion mid block)
    motion_adapter=dict(
        block_out_channels=_SD15_BLOCKS,
        motion_layers_per_block=2,
        motion_num_attention_heads=8,
        motion_norm_num_groups=32,
        motion_max_seq_length=32,
        use_motion_mid_block=False,
    ),
    # lllyasviel/control_v11*_sd15_* config.json
    controlnet=dict(
        in_channels=4,
        down_block_types=_SD15_DOWN,
        block_out_channels=_SD15_BLOCKS,
        layers_per_block=2,
        cross_attention_dim=768,
        attention_head_dim=8,
        conditioning_embedding_out_channels=(16, 32, 96, 256),
    ),
    # stable-diffusion-v1-5/stable-diffusion-v1-5 vae/config.json
    vae=dict(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        latent_channels=4,
        sample_size=512,
    ),
    # openai/clip-vit-large-patch14 text model
    text_encoder=dict(
        vocab_size=49408,
        hidden_size=768,
        intermediate_size=3072,
        num_hidden_layers=12,
        num_attention_heads=12,
        max_position_embeddings=77,
        hidden_act="quick_gelu",
        projection_dim=768,
    ),
)

_TINY_BLOCKS = (16, 32)
_TINY_DOWN = ("CrossAttnDownBlock2D", "DownBlock2D")
_TINY_TEXT_WIDTH = 32

TINY = Architecture(
    unet=dict(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        down_block_types=_TINY_DOWN,
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        block_out_channels=_TINY_BLOCKS,
        layers_per_block=1,
        cross_attention_dim=_TINY_TEXT_WIDTH,
        attention_head_dim=2,
        norm_num_groups=4,
    ),
    motion_adapter=dict(
        block_out_channels=_TINY_BLOCKS,
        motion_layers_per_block=1,
        motion_num_attention_heads=2,
        motion_norm_num_groups=4,
        motion_max_seq_length=32,
        use_motion_mid_block=False,
    ),
    controlnet=dict(
        in_channels=4,
        down_block_types=_TINY_DOWN,
        block_out_channels=_TINY_BLOCKS,
        layers_per_block=1,
        cross_attention_dim=_TINY_TEXT_WIDTH,
        attention_head_dim=2,
        norm_num_groups=4,
        # four entries = three stride-2 convs: control images at pixel size land on the 8x smaller latents
        conditioning_embedding_out_channels=(8, 8, 8, 16),
    ),
    vae=dict(
        in_channels=3,
        out_channels=3,
        # four blocks = 8x downsampling, like SD's VAE, so sizes must be multiples of 8 here too
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 16, 16, 16),
        layers_per_block=1,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    ),
    text_encoder=dict(
        hidden_size=_TINY_TEXT_WIDTH,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=_TINY_TEXT_WIDTH,
    ),
)


def text_encoder_config(arch: Architecture, vocab_size: int, bos: int, eos: int) -> CLIPTextConfig:
    """The CLIP text config of `arch`, sized to the tokenizer it will read ids from."""
    options = {"vocab_size": vocab_size, **arch.text_encoder}
    return CLIPTextConfig(bos_token_id=bos, eos_token_id=eos, pad_token_id=eos, **options)


def build_unet(arch: Architecture) -> UNet2DConditionModel:
    return UNet2DConditionModel(**arch.unet)


def build_motion_adapter(arch: Architecture) -> MotionAdapter:
    return MotionAdapter(**arch.motion_adapter)


def build_controlnet(arch: Architecture) -> ControlNetModel:
    return ControlNetModel(**arch.controlnet)


def build_vae(arch: Architecture) -> AutoencoderKL:
    return AutoencoderKL(**arch.vae)


def build_text_encoder(arch: Architecture, vocab_size: int, bos: int, eos: int) -> CLIPTextModel:
    return CLIPTextModel(text_encoder_config(arch, vocab_size, bos, eos))


def build_motion_unet(arch: Architecture) -> UNetMotionModel:
    """A random-weight UNet with motion modules, built directly at its final size.

    Going through `UNetMotionModel.from_unet2d` with real weights would hold the
    2D UNet, the adapter and the result in memory at once (about 10 GB at full
    size); the configs alone are enough to lay the motion UNet out.
    """
    with torch.device("meta"):
        unet, adapter = build_unet(arch), build_motion_adapter(arch)
    return UNetMotionModel.from_unet2d(unet, adapter, load_weights=False)
