"""AnimateDiff engine overhead against calling the diffusers pipeline directly, on the tiny models.

Same components (the `tiny` set, built in a scratch data dir), same inputs
(one window of frames, depth + pose controls, 10 steps, guidance 7.5, the same
start noise), in one process: the engine's own denoising loop (windows, blend
weights, step hooks, progress) against `AnimateDiffControlNetPipeline.__call__`.
Runs alternate; the median of each is reported, as CPU seconds of this process
(robust on a shared machine) and wall seconds. Target: under 5% overhead. The
largest pixel difference between the two shows they do the same work.

Seen here (2 shared CPU cores): pipeline 2.279 CPU s, engine 2.289 CPU s: +0.4% CPU, -0.7% wall,
largest pixel difference 0 / 255.

    .venv/bin/python bench/backend/engine_overhead.py [--size 128] [--steps 10] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from _synthetic import moving_disc
from PIL import Image

from underpaint.engines.animatediff.engine import AnimateDiffEngine, pipeline_for
from underpaint.engines.base import PaintRequest, PromptSpan
from underpaint.engines.registry import load_engine

PROMPT, NEGATIVE = "a painted fox in a forest", "blurry"


def inputs(frames: int, size: int, steps: int) -> PaintRequest:
    depth = moving_disc(frames, size)
    return PaintRequest(
        prompts=[PromptSpan(0, PROMPT)],
        negative_prompt=NEGATIVE,
        width=size,
        height=size,
        num_frames=frames,
        steps=steps,
        guidance=7.5,
        seed=4,
        controls={"depth": depth, "pose": np.ascontiguousarray(depth[:, ::-1])},
    )


def engine_run(engine: AnimateDiffEngine, request: PaintRequest) -> np.ndarray:
    return np.concatenate([c.frames for c in engine.paint(request, lambda done, total: None)])


def plain_run(engine: AnimateDiffEngine, request: PaintRequest, noise: torch.Tensor) -> np.ndarray:
    """The diffusers pipeline's own `__call__`, around the engine's models, from the same start noise."""
    pipe = pipeline_for(engine.components, ["depth", "pose"])
    video = pipe(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        num_frames=request.num_frames,
        height=request.height,
        width=request.width,
        num_inference_steps=request.steps,
        guidance_scale=request.guidance,
        latents=noise,
        conditioning_frames=[[Image.fromarray(f) for f in request.controls[k]] for k in ("depth", "pose")],
        controlnet_conditioning_scale=[1.0, 1.0],
        output_type="np",
    ).frames[0]
    return (video * 255).round().astype(np.uint8)


def measure(work: Callable[[], np.ndarray]) -> tuple[float, float, np.ndarray]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = work()
    return time.process_time() - cpu, time.perf_counter() - wall, out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    engine = load_engine("tiny", Path(tempfile.mkdtemp(prefix="engine-overhead-")), device="cpu")
    request = inputs(engine.settings.window, args.size, args.steps)
    plan = engine._plan(request)
    noise = engine._noise(engine._pipeline(plan), request)
    ours: list[tuple[float, float]] = []
    theirs: list[tuple[float, float]] = []
    for _ in range(args.repeats + 1):  # the first round warms up
        cpu, wall, painted = measure(lambda: engine_run(engine, request))
        ours.append((cpu, wall))
        cpu, wall, plain = measure(lambda: plain_run(engine, request, noise))
        theirs.append((cpu, wall))
    ours, theirs = ours[1:], theirs[1:]
    ours_cpu, theirs_cpu = (statistics.median(r[0] for r in runs) for runs in (ours, theirs))
    ours_wall, theirs_wall = (statistics.median(r[1] for r in runs) for runs in (ours, theirs))
    print(
        f"engine_overhead: tiny set, {request.num_frames} frames (one window) at {args.size}x{args.size}, "
        f"{args.steps} steps, 2 ControlNets, median of {args.repeats}"
    )
    print(f"  {'':26} {'CPU s':>8} {'wall s':>8}")
    print(f"  {'diffusers pipeline call':26} {theirs_cpu:8.3f} {theirs_wall:8.3f}")
    print(f"  {'engine':26} {ours_cpu:8.3f} {ours_wall:8.3f}")
    overhead = (ours_cpu / theirs_cpu - 1) * 100
    verdict = "OK" if overhead < 5 else "OVER TARGET"
    print(
        f"  overhead {overhead:+.1f}% CPU, {(ours_wall / theirs_wall - 1) * 100:+.1f}% wall (target < 5%: {verdict})"
    )
    print(f"  largest pixel difference engine vs pipeline: {np.abs(painted.astype(int) - plain).max()} / 255")


if __name__ == "__main__":
    main()
