"""The context-window schedule: how a shot longer than the motion module's window is denoised.

A motion module sees a fixed number of frames at once (16 for AnimateDiff).
Longer shots are covered by overlapping windows spread evenly over the shot.
At every denoising step each window predicts the noise of its own frames, and
the predictions are blended frame by frame with weights that ramp linearly
across each overlap (MultiDiffusion along time, like AnimateDiff-Evolved's
context windows and FreeNoise's fusion). Where two windows meet, a frame's
prediction crossfades from one window to the next over the overlap, so there is
no step at the join; the motion module only ever runs on one window, so memory
does not grow with the shot (the whole shot's latents are a few KB per frame).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Window:
    """Frames `start .. stop-1`, denoised together."""

    start: int
    stop: int

    @property
    def length(self) -> int:
        return self.stop - self.start

    @property
    def frames(self) -> slice:
        return slice(self.start, self.stop)


def plan_windows(num_frames: int, window: int, overlap: int) -> list[Window]:
    """Windows of `window` frames covering the shot, neighbours sharing at least `overlap` frames.

    A shot no longer than one window is a single window. Otherwise the fewest
    windows that keep the overlap are spread evenly, first at frame 0 and last
    ending at the last frame.
    """
    if num_frames < 1:
        raise ValueError(f"num_frames must be >= 1, got {num_frames}")
    if window < 1 or not 0 <= overlap < window:
        raise ValueError(
            f"need window >= 1 and 0 <= overlap < window, got window={window}, overlap={overlap}"
        )
    if num_frames <= window:
        return [Window(0, num_frames)]
    count = math.ceil((num_frames - overlap) / (window - overlap))
    span = num_frames - window
    starts = [round(i * span / (count - 1)) for i in range(count)]
    return [Window(s, s + window) for s in starts]


def blend_weights(windows: list[Window], num_frames: int, overlap: int) -> list[torch.Tensor]:
    """Per window, the weight of each of its frames; for every frame the weights sum to 1.

    A window's weight ramps up over its first `overlap` frames where an earlier
    window covers them, and down over its last `overlap` frames where a later
    one does; elsewhere it is 1.
    """
    raw = []
    for window in windows:
        position = torch.arange(window.length, dtype=torch.float64)
        weight = torch.ones(window.length, dtype=torch.float64)
        if window.start > 0:
            weight = torch.minimum(weight, (position + 1) / (overlap + 1))
        if window.stop < num_frames:
            weight = torch.minimum(weight, (window.length - position) / (overlap + 1))
        raw.append(weight)
    total = torch.zeros(num_frames, dtype=torch.float64)
    for window, weight in zip(windows, raw, strict=True):
        total[window.frames] += weight
    return [(weight / total[window.frames]).float() for window, weight in zip(windows, raw, strict=True)]
