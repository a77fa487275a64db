"""Style (LoRA) training speed: steps per second on the tiny set, and at 512 on an accelerator with peak memory.

Both run the trainer `underpaint styles train` uses (`LoraTrainer`: peft LoRA on
the UNet's attention projections, AdamW, mixed precision on a GPU). Baseline:
the step of diffusers' `train_text_to_image_lora.py`, which runs the VAE
encoder and the text encoder on every step; ours encodes each image and
caption once and then trains the UNet alone (same maths: the latent is drawn
from the cached posterior each step).

- tiny: the `tiny` model set built in a scratch data dir, 64 px, on the CPU.
- accelerator: the full-size SD1.5 UNet, VAE and CLIP text encoder with random
  weights (`architectures.SD15`; random weights do the same work as trained
  ones), 512 px, fp16, rank 16 — with and without gradient checkpointing.
  Without CUDA it says so.

Seen on one H100 (16 host cores), rank 16, batch 1: 5.1 steps/s (0.196 s), 3.2 GiB peak; the
baseline 4.6 steps/s; with gradient checkpointing 3.1 steps/s, 2.4 GiB. The step is bound by the
host launching ~3600 kernels (28 ms of GPU work a step), so batch 4 costs the same time as batch 1.

    .venv/bin/python bench/backend/styles_train.py [--steps 30] [--rank 16] [--batch-size 1]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from diffusers import DDPMScheduler

from underpaint.engines.animatediff import architectures as arch
from underpaint.engines.animatediff.tiny import ensure_tiny_models, write_tokenizer
from underpaint.styles.base_models import BaseModels, load_base_models
from underpaint.styles.request import trainable_settings
from underpaint.styles.trainer import Examples, LoraTrainer

CAPTION = "inkwash, a lighthouse on a cliff at dusk"
WARMUP = 3


def images(count: int, resolution: int) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    return [rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8) for _ in range(count)]


def tiny_base(scratch: Path) -> BaseModels:
    ensure_tiny_models(scratch)
    return load_base_models(trainable_settings("tiny", scratch), scratch, torch.float32)


def full_base(scratch: Path, device: torch.device, dtype: torch.dtype) -> BaseModels:
    """SD1.5's UNet, VAE and text encoder at full size with random weights, made on the device."""
    tokenizer = write_tokenizer(scratch / "tokenizer")
    vocab = tokenizer.get_vocab()
    with device:
        unet = arch.build_unet(arch.SD15).to(dtype)
        vae = arch.build_vae(arch.SD15).to(dtype)
        text_encoder = arch.build_text_encoder(
            arch.SD15, len(vocab), vocab[tokenizer.bos_token], vocab[tokenizer.eos_token]
        ).to(dtype)
    # SD1.5's training noise schedule.
    schedule = DDPMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear").config
    return BaseModels(unet, vae, text_encoder, tokenizer, schedule)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(device: torch.device, steps: int, step: Callable[[], float]) -> tuple[float, float]:
    """(steps per second, peak GiB allocated on the GPU during the steps; 0 on the CPU) after a warm-up."""
    for _ in range(WARMUP):
        step()
    synchronize(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    synchronize(device)
    rate = steps / (time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated(device) / 2**30 if device.type == "cuda" else 0.0
    return rate, peak


def cases(trainer: LoraTrainer, pixels: list[np.ndarray], batch_size: int) -> dict[str, Callable[[], float]]:
    """One training step done our way (cached encodings) and the diffusers-script way (encode every step)."""
    examples = trainer.encode(pixels, [CAPTION] * len(pixels), on_item=lambda: None)

    def cached() -> float:
        return trainer.step(examples.select(trainer.next_batch(len(examples), batch_size)))

    def encode_every_step() -> float:
        chosen = trainer.next_batch(len(pixels), batch_size)
        fresh: Examples = trainer.encode([pixels[i] for i in chosen], [CAPTION] * batch_size, on_item=lambda: None)
        return trainer.step(fresh)

    return {"ours (encode once)": cached, "baseline (encode every step)": encode_every_step}


def report(title: str, rows: list[tuple[str, float, float]], with_memory: bool) -> None:
    print(title)
    print(f"  {'case':34} {'steps/s':>9} {'s/step':>8}" + (f" {'peak GiB':>9}" if with_memory else ""))
    for name, rate, peak in rows:
        print(f"  {name:34} {rate:9.2f} {1 / rate:8.3f}" + (f" {peak:9.2f}" if with_memory else ""))
    rates = {name: rate for name, rate, _ in rows}
    base, ours = rates.get("baseline (encode every step)"), rates.get("ours (encode once)")
    if base and ours:
        print(f"  ours vs baseline: {ours / base:.2f}x the steps per second")


def bench_tiny(args: argparse.Namespace) -> None:
    device = torch.device("cpu")
    with tempfile.TemporaryDirectory() as scratch:
        base = tiny_base(Path(scratch))
        trainer = LoraTrainer(base, rank=4, learning_rate=1e-4, device=device, dtype=torch.float32)
        pixels = images(8, 64)
        rows = [(name, *timed(device, args.tiny_steps, step)) for name, step in cases(trainer, pixels, 1).items()]
    report(f"tiny set, 64 px, rank 4, batch 1, CPU fp32 ({torch.get_num_threads()} threads)", rows, False)


def bench_accelerator(args: argparse.Namespace) -> None:
    if not torch.cuda.is_available():
        print("full-size SD1.5 UNet at 512: no accelerator present (CUDA is not available); nothing measured")
        return
    device, dtype = torch.device("cuda"), torch.float16
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        base = full_base(Path(scratch), device, dtype)
        trainer = LoraTrainer(base, rank=args.rank, learning_rate=1e-4, device=device, dtype=dtype)
        built = time.perf_counter() - start
        pixels = images(4, 512)
        steps = cases(trainer, pixels, args.batch_size)
        rows = [(name, *timed(device, args.steps, step)) for name, step in steps.items()]
        base.unet.enable_gradient_checkpointing()
        rows.append(("ours + gradient checkpointing", *timed(device, args.steps, steps["ours (encode once)"])))
    report(
        f"SD1.5 full-size random weights on {torch.cuda.get_device_name()}, 512 px, fp16 mixed precision, "
        f"rank {args.rank} ({trainer.trainable_parameters / 1e6:.1f} M LoRA parameters), batch {args.batch_size}; "
        f"built in {built:.0f} s",
        rows,
        True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed steps per case on the accelerator")
    parser.add_argument("--tiny-steps", type=int, default=40, help="timed steps per case on the tiny set")
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=1)
    args = parser.parse_args()
    bench_tiny(args)
    bench_accelerator(args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
