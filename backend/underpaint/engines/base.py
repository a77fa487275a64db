"""The protocol every diffusion engine implements, and the request it paints.

The job worker, the `underpaint stylize` command and the benchmarks all talk to
engines only through `Engine.paint`, so an engine (AnimateDiff, Wan VACE, ...)
can be swapped without touching the server. Control images arrive already made
(`underpaint.control` owns every convention); an engine only paints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from underpaint.control.registry import CONTROLS

# Control types an engine may be given, in the user's words (the control registry's names, in its order).
CONTROL_TYPES = tuple(CONTROLS)


class Cancelled(Exception):
    """Raised from a step callback to stop painting; engines let it propagate."""


class EngineError(Exception):
    """A failure the artist can act on (model missing, out of memory, ...): the message says what to do."""


@dataclass(frozen=True)
class ControlSetting:
    """How strongly one control steers the painting, and over which part of the schedule."""

    weight: float = 1.0
    start: float = 0.0
    end: float = 1.0


@dataclass(frozen=True)
class StyleRef:
    """A LoRA file to apply while painting, with its strength."""

    path: str
    weight: float = 1.0
    name: str = ""
    # The model set the LoRA was trained on (from the style's card); engines refuse it on any other set.
    # Empty for a LoRA of unknown origin, which is then only checked by loading it.
    base_model: str = ""


@dataclass(frozen=True)
class PromptSpan:
    """A prompt that holds from `start` (0-based index into the request's frames) onward."""

    start: int
    prompt: str


@dataclass
class PaintRequest:
    """Everything an engine needs to paint `num_frames` frames at `width` x `height`.

    Arrays are uint8 RGB `(frames, height, width, 3)` at the generation size,
    except `repaint_mask`, float32 `(frames, height, width)` in [0, 1].

    Edits (re-render a range, refine a region) set `known` and `repaint_mask`:
    where the mask is 0 the engine must reproduce `known` (frames whose mask is
    all 0 are fixed context that the new frames must join without a jump); the
    final pixel composite that guarantees bit-identity happens in
    `underpaint.takes`, not in the engine.
    """

    prompts: list[PromptSpan]
    width: int
    height: int
    num_frames: int
    negative_prompt: str = ""
    steps: int = 20
    guidance: float = 7.5
    seed: int = 0
    controls: dict[str, np.ndarray] = field(default_factory=dict)
    control_settings: dict[str, ControlSetting] = field(default_factory=dict)
    init_video: np.ndarray | None = None
    strength: float = 0.6
    styles: list[StyleRef] = field(default_factory=list)
    known: np.ndarray | None = None
    repaint_mask: np.ndarray | None = None
    # Images of the wanted look (a style's concept art), uint8 RGB (h, w, 3) of any size; engines
    # that take reference images (wan-vace) condition on them, others ignore them.
    reference_images: list[np.ndarray] = field(default_factory=list)

    def prompt_at(self, index: int) -> str:
        """The prompt in force at frame `index` of the request."""
        current = self.prompts[0].prompt
        for span in self.prompts:
            if span.start <= index:
                current = span.prompt
        return current


@dataclass(frozen=True)
class FrameChunk:
    """Painted frames `start .. start + len(frames) - 1` of the request, uint8 RGB (n, h, w, 3)."""

    start: int
    frames: np.ndarray


# Called after every denoising step with (steps done, steps in total) across the whole request;
# may raise Cancelled.
StepCallback = Callable[[int, int], None]


class Engine(Protocol):
    """A loaded model set that paints requests. One instance serves many jobs."""

    name: str
    model_set: str

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        """Paint the request, yielding frames in order as soon as each chunk is final."""
        ...

    def work_units(self, request: PaintRequest) -> int:
        """Frames x denoising steps this request will process (context frames included).

        Reported with each take, so the cost of an edit can be checked against the shot length.
        """
        ...
