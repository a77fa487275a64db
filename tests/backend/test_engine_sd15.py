"""The real layouts: full-size SD1.5 + AnimateDiff v3 + ControlNet 1.1 with random weights, one step on the CPU.

Tiny models share the architectures but not the sizes; this proves that the
engine's windows, guidance and ControlNet residuals fit the real models'
shapes (cross-attention width 768, four resolution levels, 8x VAE). It builds
about 1.9 billion fp32 parameters (~8 GB of RAM, most of the test's minute or
two goes into their random initialisation), once.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from diffusers import DDIMScheduler

from underpaint.engines.animatediff import architectures as arch
from underpaint.engines.animatediff.config import parse_settings
from underpaint.engines.animatediff.engine import AnimateDiffEngine
from underpaint.engines.animatediff.loading import Components, make_scheduler
from underpaint.engines.animatediff.tiny import write_tokenizer
from underpaint.engines.base import PaintRequest, PromptSpan
from underpaint.engines.registry import get_model_set


def parameters(model: object) -> int:
    return sum(p.numel() for p in model.parameters())  # type: ignore[attr-defined]


def test_full_size_models_paint_two_frames_in_one_step(tmp_path: Path) -> None:
    model_set = get_model_set("sd15", tmp_path)
    tokenizer = write_tokenizer(tmp_path / "tokenizer")
    vocab = tokenizer.get_vocab()
    sd15_schedule = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").config
    components = Components(
        unet=arch.build_motion_unet(arch.SD15),
        vae=arch.build_vae(arch.SD15),
        text_encoder=arch.build_text_encoder(
            arch.SD15, 49408, vocab[tokenizer.bos_token], vocab[tokenizer.eos_token]
        ),
        tokenizer=tokenizer,
        scheduler=make_scheduler(parse_settings(model_set, tmp_path), sd15_schedule),
        controlnets={"depth": arch.build_controlnet(arch.SD15)},
    )
    assert 1.2e9 < parameters(components.unet) < 1.35e9  # SD1.5's 860M UNet + the v3 motion modules
    assert 3.5e8 < parameters(components.controlnets["depth"]) < 3.7e8
    engine = AnimateDiffEngine(model_set, data_dir=tmp_path, device="cpu", components=components)
    depth = np.zeros((2, 64, 64, 3), np.uint8)
    depth[:, 16:48, 16:48] = 255
    request = PaintRequest(
        prompts=[PromptSpan(0, "an oil painting of a lighthouse")],
        width=64,
        height=64,
        num_frames=2,
        steps=1,
        controls={"depth": depth},
    )
    steps: list[tuple[int, int]] = []
    chunks = list(engine.paint(request, lambda done, total: steps.append((done, total))))
    assert [c.start for c in chunks] == [0] and chunks[0].frames.shape == (2, 64, 64, 3)
    assert steps == [(1, 1)]
    assert chunks[0].frames.std() > 0
