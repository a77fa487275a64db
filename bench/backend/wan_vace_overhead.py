"""Engine overhead of `wan-vace` against calling `WanVACEPipeline` directly (target: under 5 %).

Both sides run the same tiny random-weight components (the engine's own loaded
pipeline) on the same inputs in one process, alternating, on the CPU: a
stylize (depth control video) and a refine (the parent's frames outside a mask),
each one window of 4k+1 frames at a size that needs no padding, so the
difference is what the engine adds: request checks, building the condition
video and mask, colour matching, compositing, uint8 conversion, step reporting.

    .venv/bin/python bench/backend/wan_vace_overhead.py [--repeats 7]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from underpaint.engines.base import PaintRequest, PromptSpan
from underpaint.engines.registry import load_engine
from underpaint.engines.wan_vace.engine import WanVaceEngine

FRAMES, HEIGHT, WIDTH, STEPS = 33, 64, 64, 4
TARGET = 0.05


def requests() -> dict[str, PaintRequest]:
    rng = np.random.default_rng(0)
    depth = rng.integers(0, 256, (FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    parent = rng.integers(0, 256, (FRAMES, HEIGHT, WIDTH, 3), dtype=np.uint8)
    mask = np.zeros((FRAMES, HEIGHT, WIDTH), np.float32)
    mask[:, 16:48, 16:48] = 1.0
    common = dict(
        prompts=[PromptSpan(0, "a painted fox in the snow")],
        negative_prompt="blurry",
        width=WIDTH,
        height=HEIGHT,
        num_frames=FRAMES,
        steps=STEPS,
        guidance=5.0,
        seed=7,
        controls={"depth": depth},
    )
    return {
        "stylize": PaintRequest(**common),
        "refine": PaintRequest(**common, known=parent, repaint_mask=mask),
    }


def direct_call(engine: WanVaceEngine, req: PaintRequest) -> Callable[[], object]:
    """The plain diffusers call a user would write for the same request (inputs prepared beforehand)."""
    video = req.controls["depth"]
    mask = None
    if req.known is not None:
        keep = req.repaint_mask <= 0
        video = np.where(keep[..., None], req.known, video)
        mask = [Image.fromarray(m) for m in np.where(keep, 0, 255).astype(np.uint8)]
    frames = [Image.fromarray(f) for f in video]

    def call() -> object:
        return engine.pipe(
            prompt=req.prompts[0].prompt,
            negative_prompt=req.negative_prompt,
            video=frames,
            mask=mask,
            height=req.height,
            width=req.width,
            num_frames=req.num_frames,
            num_inference_steps=req.steps,
            guidance_scale=req.guidance,
            generator=torch.Generator("cpu").manual_seed(req.seed),
            output_type="np",
        ).frames[0]

    return call


def engine_call(engine: WanVaceEngine, req: PaintRequest) -> Callable[[], object]:
    def call() -> object:
        return [chunk.frames for chunk in engine.paint(req, lambda done, total: None)]

    return call


def seconds(call: Callable[[], object]) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data_dir:
        # The tiny set with a window that holds the whole shot.
        (Path(data_dir) / "models.toml").write_text(
            f'[bench-vace]\nengine = "wan-vace"\nbuilder = "tiny-vace"\nwindow = {FRAMES}\noverlap = 5\n'
        )
        engine = load_engine("bench-vace", Path(data_dir), device="cpu")
        print(
            f"wan-vace engine overhead, tiny-vace on CPU: {FRAMES} frames {WIDTH}x{HEIGHT}, {STEPS} steps, "
            f"best of {args.repeats} alternating runs (the run least disturbed by other processes)"
        )
        print(f"{'case':10} {'direct s':>10} {'engine s':>10} {'overhead':>10}  target < {TARGET:.0%}")
        worst = -1.0
        for name, req in requests().items():
            assert len(engine.windows(req)) == 1, "one window, so both sides do the same model work"
            direct, through_engine = direct_call(engine, req), engine_call(engine, req)
            direct(), through_engine()  # warm-up
            pairs = [(seconds(direct), seconds(through_engine)) for _ in range(args.repeats)]
            d = min(p[0] for p in pairs)
            e = min(p[1] for p in pairs)
            worst = max(worst, e / d - 1)
            print(f"{name:10} {d:10.3f} {e:10.3f} {e / d - 1:+10.1%}")
        print(
            f"worst overhead {worst:+.1%} ({'within' if worst < TARGET else 'OVER'} the {TARGET:.0%} target)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
