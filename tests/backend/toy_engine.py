"""A deterministic engine for server tests: paints from the control images, no model, no torch.

It implements the `Engine` protocol exactly (steps reported per window,
frames yielded per window), so the queue, progress, cancel and durability
code runs as it does with a real engine. Register it for a data directory:

    register_toy_engine(data_dir, name="toy", step_delay=0.05)

which writes a `[toy]` model set with `engine = "toy_engine:FACTORY"` into
`<data dir>/models.toml`; a server subprocess needs this folder on PYTHONPATH
(`TOY_ENGINE_DIR`). `FACTORY` is an `EngineFactory` like the built-in engines',
so the toy also shows that an engine living outside the package plugs in.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from underpaint.control.registry import CONTROLS
from underpaint.engines.base import (
    Capabilities,
    Component,
    DraftSchedule,
    Engine,
    FrameChunk,
    Log,
    PaintRequest,
    StepCallback,
)
from underpaint.engines.checks import check_request
from underpaint.engines.config import EngineConfig, parse_config
from underpaint.engines.registry import ModelSet

TOY_ENGINE_DIR = str(Path(__file__).resolve().parent)


class ToyConfig(EngineConfig):
    step_delay: float = 0.0  # seconds per step
    window: int = 4
    context: int = 4
    fail_after: int = -1  # windows painted before a crash
    draft_steps: int = 0  # > 0: the set has a draft of that many steps, guidance off


def capabilities(config: ToyConfig) -> Capabilities:
    return Capabilities(
        controls=tuple(CONTROLS), native_size=(64, 64), size_multiple=8, window=config.window,
        context=config.context, references=True,
        draft=DraftSchedule(config.draft_steps, 1.0) if config.draft_steps else None,
    )


class ToyFactory:
    name = "toy"

    def capabilities(self, model_set: ModelSet, data_dir: Path | None) -> Capabilities:
        return capabilities(parse_config(ToyConfig, model_set, data_dir))

    def components(self, model_set: ModelSet, data_dir: Path | None) -> list[Component]:
        parse_config(ToyConfig, model_set, data_dir)
        return []

    def pull(self, model_set: ModelSet, data_dir: Path, log: Log) -> None:
        log(f"{model_set.name}: nothing to download")

    def preload(self) -> None:
        pass

    def load(self, model_set: ModelSet, data_dir: Path, device: str | None) -> Engine:
        return ToyEngine(parse_config(ToyConfig, model_set, data_dir), device)


FACTORY = ToyFactory()


class ToyEngine:
    """Paints frame i as the mean of its control images, tinted by seed and prompt."""

    name = "toy"

    def __init__(self, config: ToyConfig, device: str | None = None) -> None:
        self.model_set = config.name
        self.device = device
        self.config = config
        self.step_delay, self.window, self.fail_after = config.step_delay, config.window, config.fail_after
        self.capabilities = capabilities(config)

    def work_units(self, request: PaintRequest) -> int:
        return request.num_frames * request.steps

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        check_request(request, self.capabilities, self.name)
        return self._paint(request, on_step)

    def _paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        windows = range(0, request.num_frames, self.window)
        total, done = request.steps * len(windows), 0
        for number, start in enumerate(windows):
            if number == self.fail_after:
                raise RuntimeError(f"toy engine failure after {number} windows")
            end = min(request.num_frames, start + self.window)
            for _ in range(request.steps):
                if self.step_delay:
                    time.sleep(self.step_delay)
                done += 1
                on_step(done, total)
            yield FrameChunk(start, paint_frames(request, start, end))


def paint_frames(request: PaintRequest, start: int, end: int) -> np.ndarray:
    """The toy painting of frames start..end-1: deterministic in seed, prompt, inputs and quality."""
    shape = (end - start, request.height, request.width, 3)
    sources = [c[start:end].astype(np.float32) for c in request.controls.values()]
    if request.init_video is not None:
        sources.append(request.init_video[start:end].astype(np.float32))
    base = np.mean(sources, axis=0) if sources else np.zeros(shape, np.float32)
    frames = []
    for i in range(start, end):
        key = f"{request.seed}:{request.prompt_at(i)}{':draft' if request.draft else ''}".encode()
        tint = np.frombuffer(hashlib.sha256(key).digest()[:3], np.uint8).astype(np.float32)
        frames.append(0.5 * base[i - start] + 0.5 * tint)
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def register_toy_engine(
    data_dir: Path, name: str = "toy", step_delay: float = 0.0, window: int = 4, fail_after: int = -1,
    draft_steps: int = 0,
) -> str:
    """Add a toy model set to `<data dir>/models.toml` and return its name.

    `step_delay` seconds per denoising step make jobs slow enough to cancel or kill;
    `fail_after` >= 0 makes the engine raise after that many windows; `draft_steps` > 0 gives the set a
    draft (which paints another tint).
    """
    path = Path(data_dir) / "models.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    entry = (
        f'\n[{name}]\nengine = "toy_engine:FACTORY"\ndescription = "deterministic test engine"\n'
        f"step_delay = {step_delay}\nwindow = {window}\nfail_after = {fail_after}\ndraft_steps = {draft_steps}\n"
    )
    with path.open("a") as f:
        f.write(entry)
    return name
