"""AnimateDiff engine on an accelerator: seconds per frame at 512x512, 20 steps, 2 ControlNets, fp16.

Full-size SD1.5 + AnimateDiff v3 motion UNet, two ControlNet 1.1 (depth, pose),
VAE and CLIP text encoder with random weights (`architectures.SD15`; random
weights do the same work as trained ones), made on the GPU in fp16.

- engine, 16 frames (one window) against the plain diffusers call
  (`AnimateDiffControlNetPipeline(...)(...)`, same models and inputs);
- engine, 48 frames (crossfading windows): s/frame and peak memory, which
  should stay that of one window;
- engine with `offload = "always"` (model CPU offload), 16 frames;
- the draft: a second motion UNet of AnimateDiff-Lightning's layout (v2's, with a motion mid
  block), Euler on trailing timesteps, 4 steps without guidance, 16 frames;
- out of memory: a 4096x4096 request must end in an EngineError that names
  the fix, give the memory back, and the next 512x512 job must run.

Without CUDA it says so and exits.

Seen on one H100 80GB (torch 2.11, diffusers 0.42.1), 512x512, 20 steps, guidance 7.5:

    plain diffusers call, 16 frames       0.372 s/frame   6.0 s   6.97 GiB peak
    engine, 16 frames                     0.364 s/frame   5.8 s   6.89 GiB   (-2.1% time vs plain)
    engine, 48 frames (4 windows)         0.475 s/frame  22.8 s   6.90 GiB   (64 frames of window work)
    engine, offload=always, 16 frames     0.455 s/frame   7.3 s   6.49 GiB
    4096x4096 -> EngineError naming the fix; memory back to 4.19 GiB; next job ran normally

    .venv/bin/python bench/backend/engine_gpu.py [--frames 16] [--steps 20]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from _synthetic import moving_disc
from diffusers import DDIMScheduler
from PIL import Image

from underpaint.engines.animatediff import architectures as arch
from underpaint.engines.animatediff.config import parse_settings
from underpaint.engines.animatediff.engine import AnimateDiffEngine, pipeline_for
from underpaint.engines.animatediff.loading import Components, Draft, make_scheduler
from underpaint.engines.animatediff.tiny import write_tokenizer
from underpaint.engines.base import EngineError, PaintRequest, PromptSpan
from underpaint.engines.registry import ModelSet, get_model_set

SIZE = 512
PROMPT = "an oil painting of a lighthouse on a cliff at dusk"
NEGATIVE = "blurry, low quality"


def full_size_components(scratch: Path, model_set: ModelSet) -> Components:
    tokenizer = write_tokenizer(scratch / "tokenizer")
    vocab = tokenizer.get_vocab()
    torch.manual_seed(0)
    with torch.device("cuda"):
        unet = arch.build_motion_unet(arch.SD15).half()
        controlnets = {c: arch.build_controlnet(arch.SD15).half() for c in ("depth", "pose")}
        vae = arch.build_vae(arch.SD15).half()
        text = arch.build_text_encoder(
            arch.SD15, 49408, vocab[tokenizer.bos_token], vocab[tokenizer.eos_token]
        )
        lightning = replace(arch.SD15, motion_adapter={**arch.SD15.motion_adapter, "use_motion_mid_block": True})
        draft_unet = arch.build_motion_unet(lightning).half()
    sd15_schedule = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").config
    settings = parse_settings(model_set, scratch)
    return Components(
        unet=unet,
        vae=vae,
        text_encoder=text.half(),
        tokenizer=tokenizer,
        scheduler=make_scheduler(settings, sd15_schedule),
        controlnets=controlnets,
        draft=Draft(unet=draft_unet, scheduler=make_scheduler(settings, sd15_schedule, draft=True)),
    )


def controls(frames: int) -> dict[str, np.ndarray]:
    depth = moving_disc(frames, SIZE, speed=8)
    return {"depth": depth, "pose": np.ascontiguousarray(depth[:, :, ::-1])}


def request(frames: int, steps: int, size: int = SIZE) -> PaintRequest:
    images = controls(frames) if size == SIZE else {"depth": np.zeros((frames, size, size, 3), np.uint8)}
    return PaintRequest(
        prompts=[PromptSpan(0, PROMPT)],
        negative_prompt=NEGATIVE,
        width=size,
        height=size,
        num_frames=frames,
        steps=steps,
        guidance=7.5,
        seed=1,
        controls=images,
    )


def timed(work: Callable[[], Any]) -> tuple[float, float]:
    """Wall seconds and peak GPU memory (GiB) of `work`."""
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    work()
    torch.cuda.synchronize()
    return time.perf_counter() - start, torch.cuda.max_memory_allocated() / 2**30


def paint(engine: AnimateDiffEngine, req: PaintRequest) -> None:
    for _ in engine.paint(req, lambda done, total: None):
        pass


def plain_call(components: Components, frames: int, steps: int) -> None:
    """The diffusers pipeline's own `__call__` on the same shot (one window), around the same models."""
    pipe = pipeline_for(components, ["depth", "pose"])
    images = controls(frames)
    pipe(
        prompt=PROMPT,
        negative_prompt=NEGATIVE,
        num_frames=frames,
        height=SIZE,
        width=SIZE,
        num_inference_steps=steps,
        guidance_scale=7.5,
        conditioning_frames=[[Image.fromarray(f) for f in images[c]] for c in ("depth", "pose")],
        controlnet_conditioning_scale=[1.0, 1.0],
        generator=torch.Generator("cpu").manual_seed(1),
        output_type="np",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        print("engine_gpu: no CUDA accelerator present; nothing measured (s/frame at 512x512 needs a GPU)")
        return
    scratch = Path(tempfile.mkdtemp(prefix="engine-gpu-"))
    sd15 = get_model_set("sd15", scratch)
    components = full_size_components(scratch, sd15)
    engine = AnimateDiffEngine(sd15, data_dir=scratch, device="cuda", components=components)
    print(
        f"engine_gpu: {torch.cuda.get_device_name()}, full-size SD1.5 + v3 motion + 2 ControlNets, fp16, "
        f"{SIZE}x{SIZE}, {args.steps} steps, guidance 7.5, offload={engine.offload}"
    )
    paint(engine, request(args.frames, 2))  # warm-up: kernels, cuDNN autotuning, allocator
    plain_call(components, args.frames, 2)
    n, steps = args.frames, args.steps
    ours, ours_peak = timed(lambda: paint(engine, request(n, steps)))
    theirs, theirs_peak = timed(lambda: plain_call(components, n, steps))
    print(f"  {'':34} {'s/frame':>8} {'total s':>8} {'peak GiB':>9}")
    print(f"  {f'plain diffusers call, {n} frames':34} {theirs / n:8.3f} {theirs:8.1f} {theirs_peak:9.2f}")
    print(
        f"  {f'engine, {n} frames':34} {ours / n:8.3f} {ours:8.1f} {ours_peak:9.2f}"
        f"   ({(ours / theirs - 1) * 100:+.1f}% time vs plain)"
    )
    long = 3 * n
    windows = len(engine._plan(request(long, steps)).windows)
    seconds, peak = timed(lambda: paint(engine, request(long, steps)))
    print(
        f"  {f'engine, {long} frames ({windows} windows)':34} {seconds / long:8.3f} {seconds:8.1f} {peak:9.2f}"
    )
    draft = replace(request(n, 4), guidance=1.0, draft=True)
    paint(engine, replace(draft, steps=1))  # the draft UNet's kernels
    seconds, peak = timed(lambda: paint(engine, draft))
    print(
        f"  {f'engine, draft (4 steps, no CFG), {n} fr':34} {seconds / n:8.3f} {seconds:8.1f} {peak:9.2f}"
        f"   ({ours / seconds:.1f}x faster than the final)"
    )
    check_out_of_memory(engine)
    offloaded = AnimateDiffEngine(
        ModelSet(sd15.name, sd15.engine, sd15.description, {**sd15.components, "offload": "always"}),
        data_dir=scratch,
        device="cuda",
        components=components,
    )
    paint(offloaded, request(n, 2))
    seconds, peak = timed(lambda: paint(offloaded, request(n, steps)))
    print(f"  {f'engine, offload=always, {n} frames':34} {seconds / n:8.3f} {seconds:8.1f} {peak:9.2f}")


def check_out_of_memory(engine: AnimateDiffEngine) -> None:
    before = torch.cuda.memory_allocated()
    try:
        paint(engine, request(16, 1, size=4096))
        print("  out of memory: 16 frames at 4096x4096 fitted; no OOM to check on this GPU")
        return
    except EngineError as exc:
        message = str(exc)
    after = torch.cuda.memory_allocated()
    seconds, _ = timed(lambda: paint(engine, request(2, 2)))
    print(f"  out of memory at 4096x4096 -> EngineError: {message!r}")
    print(
        f"    memory held before {before / 2**30:.2f} GiB, after {after / 2**30:.2f} GiB; "
        f"next job (2 frames, 2 steps) ran in {seconds:.1f} s"
    )


if __name__ == "__main__":
    main()
