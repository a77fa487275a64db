"""Painted frames written on a thread of their own, in order, while the engine paints the next ones.

Encoding a PNG and writing it atomically (fsync included) takes 10-40 ms a
frame: next to a draft that paints a shot in seconds, or to a GPU that
denoises the next window meanwhile, writing in line would be a cost the
artist waits for. The writer takes frames as the engine yields them and
writes them one by one, in the order given; `write` reports each frame once
its file is on disk, as before. Whatever ends the painting (done, cancelled,
failed), every frame handed over is written before the block exits: nothing
painted is lost. A failed write (disk full) stops the writer; the next
`put`, or the end of the block, raises it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from types import TracebackType

import numpy as np

# Frames waiting to be written at most: the engine waits beyond this (bounded memory, whatever the pace).
DEPTH = 16

_DONE = None


class FrameWriter:
    """`with FrameWriter(write) as writer: writer.put(frame, rgb)`; `write(frame, rgb)` runs on the writer's
    thread, one frame at a time, in the order `put` was called."""

    def __init__(self, write: Callable[[int, np.ndarray], None], depth: int = DEPTH) -> None:
        self._write = write
        self._queue: queue.Queue[tuple[int, np.ndarray] | None] = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="frame-writer", daemon=True)

    def __enter__(self) -> FrameWriter:
        self._thread.start()
        return self

    def flush(self) -> None:
        """Wait until every frame handed over is on disk; raises a write that failed."""
        self._queue.join()
        self._raise_failure()

    def put(self, frame: int, rgb: np.ndarray) -> None:
        """Hand a frame over (waiting while `depth` frames are queued); raises a write that failed."""
        self._raise_failure()
        self._queue.put((frame, rgb))

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        """Every frame handed over is written (or the writer failed) before this returns; a write's failure
        is raised unless the block is already raising."""
        self._queue.put(_DONE)
        self._thread.join()
        if error is None:
            self._raise_failure()

    def _raise_failure(self) -> None:
        if self._error is not None:
            raise self._error

    def _run(self) -> None:
        while (item := self._queue.get()) is not _DONE:
            if self._error is None:
                try:
                    self._write(*item)
                except BaseException as exc:  # kept for the painting thread, which raises it
                    self._error = exc
            self._queue.task_done()
        self._queue.task_done()
