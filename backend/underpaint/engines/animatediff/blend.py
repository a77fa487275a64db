"""Per-step latent blending for edits: keeping known content while the rest of the shot is denoised.

RePaint-style: wherever `keep` is 1, the latents are replaced after every
denoising step by the known clean latents noised to the level of the next
step, with the same per-frame noise the shot started from (so with DDIM the
kept part follows exactly the trajectory it would have followed on its own).
The model sees the kept part at every step and paints the rest to match it.
An edit (re-render a range, refine a region) keeps everything outside its
repaint mask; the mask may be soft (0..1) at latent resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class FixedLatents:
    """Known clean latents and where to keep them, for the whole shot.

    Tensors are laid out like the pipeline's latents, (batch, channels, frames,
    height, width); `keep` has one channel and broadcasts over the others.
    """

    known: torch.Tensor
    keep: torch.Tensor

    def at(self, scheduler: object, noise: torch.Tensor, timestep: torch.Tensor | None) -> torch.Tensor:
        """The known latents as they look at `timestep` (None = fully denoised)."""
        if timestep is None:
            return self.known
        level = timestep.reshape(1).to(self.known.device)
        return scheduler.add_noise(self.known, noise, level)  # type: ignore[attr-defined]

    def apply(
        self, latents: torch.Tensor, scheduler: object, noise: torch.Tensor, timestep: torch.Tensor | None
    ) -> torch.Tensor:
        """`latents` with the kept part replaced by the known latents at `timestep`."""
        kept = self.at(scheduler, noise, timestep).to(latents.dtype)
        keep = self.keep.to(device=latents.device, dtype=latents.dtype)
        return latents * (1 - keep) + kept * keep


def outside_repaint_mask(known: torch.Tensor, repaint_mask: torch.Tensor) -> FixedLatents:
    """Keep `known` wherever no pixel of a latent's patch is to be repainted (edits of a take).

    `repaint_mask` is (frames, height, width) at image resolution, 1 = repaint.
    A latent pixel stands for a patch of image pixels and is repainted when any
    of them is, so the painted region covers the whole mask and the pixel
    composite (`underpaint.takes.composite`) can put its feathered edge inside it.
    """
    factor = repaint_mask.shape[-1] // known.shape[-1]
    repaint = F.max_pool2d(repaint_mask.to(torch.float32).unsqueeze(1), factor)  # (frames, 1, h, w)
    keep = 1 - repaint.transpose(0, 1).unsqueeze(0)
    return FixedLatents(known=known, keep=keep.to(device=known.device, dtype=known.dtype))
