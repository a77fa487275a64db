"""The engine seam: what an engine is told (`PaintRequest`), what it paints, and how it is found.

Two protocols, both typed, nothing found by `getattr`:

- `EngineFactory`, one per engine (a module-level object in the engine's
  folder, named in `registry.BUILTIN_ENGINES`): reads a model set's TOML table
  into the engine's typed config, says what the set can do (`Capabilities`)
  and which of its models are on this machine, fetches them, and loads them.
  None of this but `load` imports the engine's libraries, so `/v1/health` and
  `underpaint models` answer at once.
- `Engine`, a loaded model set: the job worker, `underpaint stylize` and the
  benchmarks talk to it only through `paint` and `work_units`.

Control images arrive already made (`underpaint.control` owns every
convention); an engine only paints.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from underpaint.control.registry import CONTROLS

if TYPE_CHECKING:
    from .registry import ModelSet

# Control types an engine may be given, in the user's words (the control registry's names, in its order).
CONTROL_TYPES = tuple(CONTROLS)


class Cancelled(Exception):
    """Raised from a step callback to stop painting; engines let it propagate."""


class EngineError(Exception):
    """A failure the artist can act on (model missing, out of memory, ...): the message says what to do."""


class WorkerLost(Exception):
    """The process painting a request went away mid-paint (a cluster node lost, its actor killed): the
    frames received before it are final and kept; the rest were never painted."""


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


class Checkpoint(Protocol):
    """Where an engine keeps the state it resumes from (one per take; written atomically, whole or not at
    all): arrays and integers only (`np.ndarray`), so a checkpoint reads back on any machine.

    `save` may be called only while the frames yielded so far are all the state leaves out: the caller's
    `save` first puts every frame it was handed on disk.
    """

    def load(self) -> dict[str, np.ndarray] | None:
        """The state last saved, or None."""
        ...

    def save(self, state: dict[str, np.ndarray]) -> None:
        ...


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
    # Reuse predicted transformer work between steps (`Capabilities.cache`): faster, slightly different.
    cache: bool = False
    # Paint with the set's step-distilled draft models (`Capabilities.draft`). The caller sets `steps` and
    # `guidance` to the draft's schedule: the engine paints what the request says, with the draft's models.
    draft: bool = False
    # Where to save resumable state every few steps, and to resume from when it holds some: a resumed
    # paint yields the same frames as an uninterrupted one, from where its state left off (the frames
    # before it are already final). None: nothing is saved.
    checkpoint: Checkpoint | None = None

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

    @property
    def capabilities(self) -> Capabilities:
        """What the loaded set can do (as its factory says, before loading)."""
        ...

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        """Paint the request, yielding frames in order as soon as each chunk is final."""
        ...

    def work_units(self, request: PaintRequest) -> int:
        """Frames x denoising steps this request will process (context frames included).

        Reported with each take, so the cost of an edit can be checked against the shot length.
        """
        ...


@dataclass(frozen=True)
class DraftSchedule:
    """How a set's draft models paint: step-distilled, so a few steps without classifier-free guidance."""

    steps: int
    guidance: float

    def to_json(self) -> dict[str, Any]:
        return {"steps": self.steps, "guidance": self.guidance}


@dataclass(frozen=True)
class Capabilities:
    """What a model set can do, known without loading it: checked at submit, drawn by the add-on.

    `size_multiple`: sizes that are multiples of it paint without padding (any multiple of 8 is
    accepted; the engine pads the rest). `frame_multiple` / `frame_remainder`: the frame counts a
    window takes natively (k * multiple + remainder; the engine pads and trims, never drops a
    frame). `window`: frames painted together; `context`: frames each window repeats from the
    previous one, the default context an edit keeps on each side. `cache`: the set offers a
    step cache (`PaintRequest.cache`), a speed/quality trade the artist opts into. `draft`: the
    schedule of the set's draft models (`PaintRequest.draft`), None for a set without them.
    """

    controls: tuple[str, ...]
    native_size: tuple[int, int]
    size_multiple: int
    window: int
    context: int
    frame_multiple: int = 1
    frame_remainder: int = 0
    control_required: bool = False
    masks: bool = True
    references: bool = False
    styles: bool = True
    video2video: bool = True
    cache: bool = False
    draft: DraftSchedule | None = None

    def to_json(self) -> dict[str, Any]:
        """The fields `/v1/health` lists per model set (the controls with their label and weight)."""
        data = {**asdict(self), "draft": self.draft is not None}
        flags = ("masks", "references", "styles", "video2video", "cache", "draft")
        return {
            "controls": [
                {"name": c, "label": CONTROLS[c].label, "default_weight": CONTROLS[c].default_weight}
                for c in self.controls
            ],
            "native_size": list(self.native_size),
            **{k: data[k] for k in ("size_multiple", "frame_multiple", "frame_remainder", "window", "context")},
            "capabilities": {k: data[k] for k in flags},
            "draft": None if self.draft is None else self.draft.to_json(),
        }


@dataclass(frozen=True)
class Component:
    """One model of a set: its role ('base', 'controlnet.depth', 'pipeline'), where it comes from, whether
    it is on this machine (a model built locally on first use counts as present)."""

    role: str
    location: str
    present: bool


# `pull` reports what it fetches or builds, one line at a time.
Log = Callable[[str], None]


class EngineFactory(Protocol):
    """One engine, before anything is loaded: its configs, capabilities, models; and loading itself.

    Every method takes the model set and the data directory (`{data_dir}` in a
    set's paths and locally built models live there) and raises `EngineError`
    naming the set and the key for a table it cannot read.
    """

    name: str

    def capabilities(self, model_set: ModelSet, data_dir: Path | None) -> Capabilities:
        """What the set can do (its controls, sizes, window, masks, references, styles)."""
        ...

    def components(self, model_set: ModelSet, data_dir: Path | None) -> list[Component]:
        """Each model of the set and whether it is here, without the network."""
        ...

    def pull(self, model_set: ModelSet, data_dir: Path, log: Log) -> None:
        """Download (or build) every model of the set, so that painting needs no network."""
        ...

    def preload(self) -> None:
        """Import the engine's libraries (seconds), once, before any worker loads a set."""
        ...

    def load(self, model_set: ModelSet, data_dir: Path, device: str | None) -> Engine:
        """The loaded engine (weights are read here: seconds to minutes)."""
        ...


def available(factory: EngineFactory, model_set: ModelSet, data_dir: Path | None) -> bool:
    """Whether the set loads without the network: every component is here."""
    return all(c.present for c in factory.components(model_set, data_dir))
