"""A painting job's progress as the artist reads it: frames on disk, steps per window, time left.

Engines count denoising steps across the whole request (steps x windows); an artist who
asked for 2 steps must not read `step 1/16`. The reporter says which window and which of
its steps, how many frames are safely on disk, and estimates the time left from the pace of
the steps so far (the first estimate comes with the first step: loading the model and making
the control images are not painting).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from underpaint.paint.context import Progress, ProgressCallback

# The share of the progress bar the denoising steps fill; writing the frames fills the rest.
STEPS_SHARE = 0.95


class ProgressReporter:
    """Turns denoising steps and written frames into `Progress` reports."""

    def __init__(
        self, report: ProgressCallback | None, frames_total: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._report = report or (lambda progress: None)
        self._clock = clock
        self.total = frames_total
        self.steps = (0, 1)
        self.frames = 0
        self.per_window = 0  # denoising steps per window, once painting starts
        self._since: float | None = None
        self._eta: float | None = None
        # Steps come from the painting thread, written frames from the frame writer's: one report at a time.
        self._lock = threading.Lock()

    def painting(self, steps_per_window: int) -> None:
        """Painting starts now: the model set is loaded and the control images are made."""
        self.per_window = steps_per_window
        self._since = self._clock()

    def say(self, message: str) -> None:
        with self._lock:
            done, total = self.steps
            fraction = STEPS_SHARE * done / max(total, 1) + (1 - STEPS_SHARE) * self.frames / max(self.total, 1)
            self._report(Progress(fraction, self.frames, self.total, message, self._eta))

    def step(self, done: int, total: int) -> None:
        self.steps = (done, total)
        if self._since is not None and done > 0:
            self._eta = (self._clock() - self._since) / done * (total - done)
        self.say(f"painting: {self.where(done, total)}, {self.frames}/{self.total} frames on disk")

    def where(self, done: int, total: int) -> str:
        """'window 2/8, step 1/2' (one window: 'step 1/2'), from steps counted across the request."""
        per = self.per_window
        if per < 1 or total % per or total == per:
            return f"step {done}/{total}"
        return f"window {(done - 1) // per + 1}/{total // per}, step {(done - 1) % per + 1}/{per}"

    def stepper(self, stop: Callable[[], None]) -> Callable[[int, int], None]:
        """The engine's `on_step`: stop if asked to (cancel), else report the step."""

        def on_step(done: int, total: int) -> None:
            stop()
            self.step(done, total)

        return on_step

    def frame_written(self, frame: int) -> None:
        self.frames += 1
        self.say(f"wrote frame {frame} ({self.frames}/{self.total} on disk)")
