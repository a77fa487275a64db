"""Where and how the models run: device, dtype, attention, offloading, and running out of memory.

On CUDA the models run in float16 (or the set's bfloat16) with PyTorch's
scaled-dot-product attention; when the GPU has too little free memory for all
models at once they are offloaded to the CPU and moved in one at a time
(`enable_model_cpu_offload`). Running out of memory is a job error with a
suggestion, and the memory is released so the next job runs normally.
"""

from __future__ import annotations

import gc
import traceback
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from diffusers.models.attention_processor import AttnProcessor2_0

from .base import EngineError

# Headroom for activations next to the weights when everything stays on the GPU
# (a 16-frame 512x512 window with two ControlNets in fp16 peaks at a few GB).
WORKING_MEMORY = 6 * 1024**3


def choose_device(requested: str | None) -> torch.device:
    """The requested device, else CUDA, else Apple's MPS, else the CPU."""
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError as exc:
            raise EngineError(f"unknown device {requested!r}: {exc}") from exc
        if device.type == "cuda" and not torch.cuda.is_available():
            raise EngineError(f"device {requested!r} asked for, but CUDA is not available on this machine")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def choose_dtype(device: torch.device, setting: str) -> torch.dtype:
    """Half precision on accelerators (the set's float16 / bfloat16); float32 on the CPU."""
    if device.type == "cpu":
        return torch.float32
    if device.type == "mps" and setting == "bfloat16":
        return torch.float16
    return getattr(torch, setting)


def use_sdpa(models: Iterable[torch.nn.Module]) -> None:
    """Attention through torch's fused scaled_dot_product_attention (flash / memory-efficient kernels)."""
    for model in models:
        model.set_attn_processor(AttnProcessor2_0())  # type: ignore[operator]


def weight_bytes(models: Iterable[torch.nn.Module]) -> int:
    return sum(p.numel() * p.element_size() for m in models for p in m.parameters())


def should_offload(
    device: torch.device, setting: str, models: Iterable[torch.nn.Module], working_memory: int = WORKING_MEMORY
) -> bool:
    """Offload when the set says so, or ('auto') when the free GPU memory cannot hold weights + activations.

    `working_memory` is the engine's activation peak on top of the weights (bytes).
    """
    if device.type != "cuda" or setting == "never":
        return False
    if setting == "always":
        return True
    free, _ = torch.cuda.mem_get_info(device)
    return free < weight_bytes(models) + working_memory


def flush_denormals(device: torch.device) -> None:
    """On the CPU, treat subnormal floats as zero in the calling thread (and threads it starts later).

    Activations that decay towards zero (random test models, black control
    images) otherwise hit x86's slow path for subnormals: a 96-frame tiny shot
    took 27 s instead of 1.7 s. GPUs flush them in their kernels anyway; the
    values involved are below 1e-38.
    """
    if device.type == "cpu":
        torch.set_flush_denormal(True)


def release_memory(device: torch.device) -> None:
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


@contextmanager
def out_of_memory_as_error(device: torch.device, what: str) -> Iterator[None]:
    """Turn an out-of-memory error into an EngineError that says what to change, after freeing the memory.

    The failed step's frames are cleared before the new error is raised: the
    out-of-memory traceback holds every tensor of that step, and would keep
    them (tens of GB) allocated until some later garbage collection.
    """
    failed = False
    try:
        yield
    except torch.OutOfMemoryError as exc:
        traceback.clear_frames(exc.__traceback__)
        failed = True
    if failed:
        release_memory(device)
        raise EngineError(
            f"out of {device.type.upper()} memory while painting {what}; lower the resolution or the number of "
            'frames per window, use fewer controls, or set offload = "always" for this model set'
        )
