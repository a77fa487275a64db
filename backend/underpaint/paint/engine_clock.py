"""The engine's own seconds in a painting job, measured inside the job.

A take records `paint_seconds` (from the first step to the last frame on disk)
and, beside it, `engine_seconds`: the time spent inside the engine's iteration,
less the step callbacks (progress reports, the cancel check), which are the
service's. Their difference is what the service adds to the engine in that very
job, immune to the machine's speed drifting between runs, which on a shared
CPU is larger than the cost being measured.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


class EngineClock:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self._clock = clock
        self._inside = 0.0
        self._callbacks = 0.0

    @property
    def seconds(self) -> float:
        """Seconds the engine itself worked so far."""
        return self._inside - self._callbacks

    def timed(self, items: Iterable[T]) -> Iterator[T]:
        """`items` (the engine's chunks), counting the time spent producing each."""
        iterator = iter(items)
        while True:
            started = self._clock()
            try:
                item = next(iterator)
            except StopIteration:
                return
            finally:
                self._inside += self._clock() - started
            yield item

    def outside(self, callback: Callable[[int, int], None]) -> Callable[[int, int], None]:
        """`callback` (the engine's step callback), its time not counted as the engine's."""

        def timed(done: int, total: int) -> None:
            started = self._clock()
            try:
                callback(done, total)
            finally:
                self._callbacks += self._clock() - started

        return timed
