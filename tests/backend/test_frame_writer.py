"""The frame writer: painted frames written on a thread of their own, in order, none lost."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from underpaint.paint.frame_writer import FrameWriter

RGB = np.zeros((2, 2, 3), np.uint8)


def test_frames_are_written_in_order_off_the_painting_thread() -> None:
    written: list[tuple[int, str]] = []
    with FrameWriter(lambda frame, rgb: written.append((frame, threading.current_thread().name)), depth=2) as w:
        for frame in range(1, 11):
            w.put(frame, RGB)
    assert [frame for frame, _ in written] == list(range(1, 11))
    assert {name for _, name in written} == {"frame-writer"}


def test_every_frame_handed_over_is_written_when_the_painting_stops() -> None:
    written: list[int] = []
    release = threading.Event()

    def slow(frame: int, rgb: np.ndarray) -> None:
        release.wait()
        written.append(frame)

    with pytest.raises(KeyboardInterrupt), FrameWriter(slow) as writer:
        for frame in range(5):
            writer.put(frame, RGB)
        release.set()
        raise KeyboardInterrupt  # a cancel or a crash of the engine
    assert written == [0, 1, 2, 3, 4]


def test_a_failed_write_stops_the_writer_and_is_raised_to_the_painter() -> None:
    written: list[int] = []

    def full_disk(frame: int, rgb: np.ndarray) -> None:
        if frame == 3:
            raise OSError(28, "No space left on device")
        written.append(frame)

    with pytest.raises(OSError, match="No space left"), FrameWriter(full_disk, depth=1) as writer:
        for frame in range(1, 50):
            writer.put(frame, RGB)
    assert written == [1, 2], "nothing written after the failure"
