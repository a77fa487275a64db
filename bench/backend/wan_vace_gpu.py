"""Wan VACE 1.3B on an accelerator: seconds per frame at 480p and peak GPU memory, random weights.

Builds the published 1.3B layout (`WAN_VACE_1_3B`: the VACE transformer, the Wan
VAE, the UMT5-XXL encoder) with random weights into a scratch folder, loads it
through the `wan-vace` engine (the code that loads the real checkpoint: bf16,
VAE in fp32), and paints an 81-frame 832x480 shot with a depth control video,
beside the plain `WanVACEPipeline` call on the same components and inputs; then,
in one table, the final schedule with the step cache, the draft (a random
rank-32 LoRA of the draft's layout, 4 steps, no guidance) and the compiled
blocks (`compile = "always"`: the first job's warm-up, then a second job of the
same shape). Random weights paint noise, but every layer does its real work, so
the time and memory are those of the real model. Without CUDA it says so and exits.

    .venv/bin/python bench/backend/wan_vace_gpu.py [--steps 20] [--frames 81] [--offload never,always]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from wan_vace_overhead import direct_call, engine_call

from underpaint.engines.base import PaintRequest, PromptSpan
from underpaint.engines.registry import load_engine
from underpaint.engines.wan_vace.tiny import DRAFT_LORA, WAN_VACE_1_3B, build_vace, write_draft_lora


def depth_video(frames: int, height: int, width: int) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    t = np.arange(frames, dtype=np.float32)[:, None, None]
    value = 128 + 100 * np.sin((x + 4 * t) / 60.0) * np.cos(y / 80.0)
    return np.repeat(value[..., None], 3, axis=-1).astype(np.uint8)


def measure(name: str, call: Callable[[], object], frames: int, steps: int) -> tuple[float, float]:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    call()
    torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30
    print(f"{name:10} {seconds:9.1f} {seconds / frames:9.3f} {seconds / steps:9.2f} {peak:10.1f}")
    return seconds, peak


def paint_request(frames: int, height: int, width: int, steps: int) -> PaintRequest:
    return PaintRequest(
        prompts=[PromptSpan(0, "a painted fox running through snow, watercolour")],
        negative_prompt="blurry, low quality",
        width=width,
        height=height,
        num_frames=frames,
        steps=steps,
        guidance=5.0,
        controls={"depth": depth_video(frames, height, width)},
    )


def random_set(folder: Path, offload: str, compile_mode: str = "never") -> str:
    """The random 1.3B as a models.toml table, with its draft LoRA and the compile mode."""
    return (
        f'["random-1.3b"]\nengine = "wan-vace"\npipeline = "{folder}"\noffload = "{offload}"\n'
        f'compile = "{compile_mode}"\n'
        f'["random-1.3b".draft]\nlora = "{folder / DRAFT_LORA}"\nsteps = 4\nguidance = 1.0\n'
    )


def bench_mode(scratch: Path, folder: Path, offload: str, args: argparse.Namespace) -> None:
    """Load the random 1.3B through the engine with `offload`, then time diffusers and the engine on one shot."""
    (scratch / "models.toml").write_text(random_set(folder, offload))
    start = time.perf_counter()
    engine = load_engine("random-1.3b", scratch, device="cuda")
    loaded = time.perf_counter() - start
    models = (engine.pipe.transformer, engine.pipe.text_encoder, engine.pipe.vae)
    weights = sum(p.numel() * p.element_size() for m in models for p in m.parameters()) / 2**30
    print(f"offload={offload}: loaded through the engine in {loaded:.0f} s; weights {weights:.1f} GiB")
    req = paint_request(args.frames, args.height, args.width, args.steps)
    assert len(engine.windows(req)) == 1, "one window, so both sides do the same model work"
    engine_call(engine, paint_request(5, args.height, args.width, 2))()  # warm-up: kernels, allocator
    print(f"{'case':10} {'total s':>9} {'s/frame':>9} {'s/step':>9} {'peak GiB':>10}")
    direct, _ = measure("diffusers", direct_call(engine, req), args.frames, args.steps)
    through, _ = measure("engine", engine_call(engine, req), args.frames, args.steps)
    print(f"engine overhead on the GPU: {through / direct - 1:+.1%}")
    measure("cache", engine_call(engine, replace(req, cache=True)), args.frames, args.steps)
    draft = replace(req, steps=4, guidance=1.0, draft=True)
    measure("draft", engine_call(engine, draft), args.frames, draft.steps)
    del engine
    torch.cuda.empty_cache()
    (scratch / "models.toml").write_text(random_set(folder, offload, "always"))
    compiled = load_engine("random-1.3b", scratch, device="cuda")
    measure("compile 1st", engine_call(compiled, req), args.frames, args.steps)  # the warm-up, stated
    measure("compiled", engine_call(compiled, req), args.frames, args.steps)
    del compiled
    torch.cuda.empty_cache()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--width", type=int, default=832)
    parser.add_argument("--height", type=int, default=480)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--offload", default="never", help="comma-separated modes: never, always, auto")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("wan-vace GPU benchmark: no accelerator present (CUDA is not available); nothing measured")
        return 0
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch) / "wan-vace-1.3b-random"
        start = time.perf_counter()
        build_vace(WAN_VACE_1_3B, folder, device="cuda", dtype=torch.bfloat16)
        write_draft_lora(WAN_VACE_1_3B, folder / DRAFT_LORA, rank=32)
        torch.cuda.empty_cache()
        print(
            f"wan-vace 1.3B layout, random weights, on {torch.cuda.get_device_name()}: {args.frames} frames "
            f"{args.width}x{args.height}, {args.steps} steps, guidance 5 (two transformer passes a step); "
            f"built in {time.perf_counter() - start:.0f} s"
        )
        for offload in args.offload.split(","):
            bench_mode(Path(scratch), folder, offload, args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
