"""Counting denoising steps across a whole request, for every engine alike."""

from __future__ import annotations

from .base import StepCallback


class StepCounter:
    """Counts steps across the request (all windows) and reports each: (steps done, steps in total).

    `on_step` may raise `Cancelled`; it propagates out of the engine, so a cancel lands within one step.
    """

    def __init__(self, on_step: StepCallback, total: int) -> None:
        self.on_step, self.total, self.done = on_step, total, 0

    def resume(self, done: int) -> None:
        """Count `done` steps as run already (a paint resumed from its checkpoint)."""
        self.done = done

    def step(self) -> None:
        self.done += 1
        self.on_step(self.done, self.total)
