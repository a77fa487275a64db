"""Seeding, one rule for every engine: the noise of a frame depends on (seed, frame) only.

So a frame's noise never depends on how a shot is cut into windows, and
neighbouring seeds give unrelated noise (the pair is mixed by numpy's
`SeedSequence`, not added).
"""

from __future__ import annotations

import numpy as np
import torch


def frame_seed(seed: int, frame: int) -> int:
    """A well-mixed 63-bit seed for (seed, frame); frame -1 and below are for what is not a frame."""
    entropy = [seed % 2**63, frame % 2**63]
    return int(np.random.SeedSequence(entropy).generate_state(1, np.uint64)[0]) % 2**63


def frame_generator(seed: int, frame: int) -> torch.Generator:
    """A CPU generator seeded for (seed, frame)."""
    return torch.Generator("cpu").manual_seed(frame_seed(seed, frame))


def frame_noise(shape: tuple[int, ...], seed: int, frames: list[int]) -> torch.Tensor:
    """Standard normal noise (channels, len(frames), *shape[1:]) on the CPU, each frame from its own seed.

    `shape` is one frame's (channels, height, width).
    """
    return torch.stack([torch.randn(shape, generator=frame_generator(seed, f)) for f in frames], dim=1)
