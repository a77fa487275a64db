"""How a shot of any length and size becomes Wan VACE calls, and how their frames join.

Wan's VAE compresses time 4x after the first frame, so the model only paints
4k+1 frames, at sizes that are multiples of 16. The engine never drops or
repeats a frame of the shot to fit: it pads (edge frames / edge pixels, marked
as "generate") and trims the padding off what comes back.

A shot longer than one window is painted in windows that overlap: the first
`overlap` frames of each later window are the previous window's painted frames,
given to VACE as fixed context (mask black), so the new frames continue them.
VACE drifts in colour from call to call; `match_colours` pulls each window back
onto the frames it was told to keep, which also evens out colour across the
edge of a refinement mask.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Below this many kept pixels a colour statistic is noise, and the window is left as painted.
MIN_FIXED_PIXELS = 256
# Colour matching may stretch or squeeze contrast at most this much per channel.
MAX_GAIN = 2.0


@dataclass(frozen=True)
class Window:
    """Request frames `start .. end - 1`, painted by one call of `length` (4k+1) model frames.

    The first `context` of them were painted by the previous window and are kept;
    the frames after `end - start` up to `length` are padding, trimmed off again.
    """

    start: int
    end: int
    context: int
    length: int

    @property
    def new_start(self) -> int:
        """The first request frame this window paints."""
        return self.start + self.context


def model_frame_count(frames: int, temporal: int = 4) -> int:
    """The smallest frame count of the form `temporal * k + 1` that holds `frames`."""
    if frames < 1:
        raise ValueError(f"need at least one frame, got {frames}")
    return -(-(frames - 1) // temporal) * temporal + 1


def plan_windows(frames: int, window: int, overlap: int, temporal: int = 4) -> list[Window]:
    """Cover `frames` request frames with windows of at most `window` frames overlapping by `overlap`."""
    if window < 1 or (window - 1) % temporal:
        raise ValueError(f"window must be a frame count of the form {temporal}k+1, got {window}")
    if not 0 < overlap < window:
        raise ValueError(f"overlap must be between 1 and window - 1 ({window - 1}), got {overlap}")
    windows = []
    start, context = 0, 0
    while True:
        end = min(start + window, frames)
        windows.append(Window(start, end, context, model_frame_count(end - start, temporal)))
        if end == frames:
            return windows
        start, context = end - overlap, overlap


def padded_size(height: int, width: int, multiple: int) -> tuple[int, int]:
    """`height`, `width` rounded up to the model's size multiple."""
    return -(-height // multiple) * multiple, -(-width // multiple) * multiple


def pad_edges(video: np.ndarray, frames: int, height: int, width: int) -> np.ndarray:
    """`video` (n, h, w, ...) grown to (frames, height, width, ...) by repeating its last frame / edge pixels."""
    grow = [(0, frames - video.shape[0]), (0, height - video.shape[1]), (0, width - video.shape[2])]
    if any(after < 0 for _, after in grow):
        raise ValueError(f"cannot pad {video.shape[:3]} down to {(frames, height, width)}")
    grow += [(0, 0)] * (video.ndim - 3)
    return np.pad(video, grow, mode="edge")


def match_colours(frames: np.ndarray, reference: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Per-channel gain and offset that map the painted `frames` onto `reference` where `fixed`.

    `frames` and `reference` are float RGB in [0, 1], (n, h, w, 3); `fixed` is boolean (n, h, w):
    the pixels the model was told to keep. Matching mean and spread there (clamped to
    `MAX_GAIN`) removes the window's colour drift without touching its content.
    """
    if np.count_nonzero(fixed) < MIN_FIXED_PIXELS:
        return frames
    painted, wanted = frames[fixed], reference[fixed]
    gain = np.clip(wanted.std(axis=0) / np.maximum(painted.std(axis=0), 1e-6), 1 / MAX_GAIN, MAX_GAIN)
    offset = wanted.mean(axis=0) - gain * painted.mean(axis=0)
    return np.clip(frames * gain + offset, 0.0, 1.0)
