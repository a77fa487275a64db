"""Video-to-video for Wan VACE: start from the rough colour render instead of pure noise (SDEdit).

`WanVACEPipeline` always runs its scheduler's whole schedule from noise. With a
colour render and a `strength`, the engine instead encodes the render with the
Wan VAE, noises it to the sigma where the last `strength` of the schedule
starts (flow matching: x = (1 - sigma) x0 + sigma noise), hands that in as
`latents`, and lets the pipeline run only those last steps, through a copy of
its scheduler whose schedule is cut to them. Everything else (control video,
masks, kept frames) stays VACE's.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from diffusers import SchedulerMixin, WanVACEPipeline

from ..schedule import steps_run


def partial_schedule(scheduler: SchedulerMixin, strength: float) -> SchedulerMixin:
    """A copy of `scheduler` whose every schedule keeps only its last `steps_run` steps."""

    class PartialSchedule(type(scheduler)):  # type: ignore[misc, valid-type]
        def set_timesteps(
            self, num_inference_steps: int | None = None, *args: object, **kwargs: object
        ) -> None:
            super().set_timesteps(num_inference_steps, *args, **kwargs)
            skip = len(self.timesteps) - steps_run(len(self.timesteps), strength)  # type: ignore[has-type]
            self.timesteps, self.sigmas = self.timesteps[skip:], self.sigmas[skip:]  # type: ignore[has-type]
            self.num_inference_steps = len(self.timesteps)

    return PartialSchedule.from_config(scheduler.config)


def noised_latents(pipe: WanVACEPipeline, video: np.ndarray, sigma: float, noise: torch.Tensor) -> torch.Tensor:
    """The Wan VAE's latents of uint8 `video` (n, h, w, 3), normalised as the pipeline does, noised to `sigma`
    with `noise` (of the latents' shape)."""
    device = pipe._execution_device
    pixels = torch.from_numpy(video).permute(3, 0, 1, 2)[None].to(device, torch.float32) / 127.5 - 1.0
    latents = pipe.vae.encode(pixels.to(pipe.vae.dtype)).latent_dist.mode().float()
    shape = (1, pipe.vae.config.z_dim, 1, 1, 1)
    mean = torch.tensor(pipe.vae.config.latents_mean, device=device).view(shape)
    std = torch.tensor(pipe.vae.config.latents_std, device=device).view(shape)
    clean = (latents - mean) / std
    return (1.0 - sigma) * clean + sigma * noise.to(device, torch.float32)


@contextmanager
def from_video(
    pipe: WanVACEPipeline, video: np.ndarray, steps: int, strength: float, noise: torch.Tensor
) -> Iterator[torch.Tensor]:
    """For one call: the pipeline's scheduler cut to the last `strength` of `steps`; yields the start latents."""
    full = pipe.scheduler
    partial = partial_schedule(full, strength)
    partial.set_timesteps(steps)
    start = noised_latents(pipe, video, float(partial.sigmas[0]), noise)
    pipe.scheduler = partial
    try:
        yield start
    finally:
        pipe.scheduler = full
