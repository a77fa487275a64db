"""Published files follow the umask, so a compositor or farm account can read a take."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from underpaint.blobs import BlobStore
from underpaint.takes.store import TakeStore


@pytest.fixture(params=[0o022, 0o027, 0o077])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    previous = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(previous)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_take_frames_get_the_mode_the_umask_allows(tmp_path: Path, umask: int) -> None:
    takes = TakeStore.open(tmp_path)
    take = takes.create(shot="sh 010", shot_sha=None, kind="stylize", params={}, frame_start=1, frame_end=1,
                        width=4, height=2)
    path = takes.write_frame(take.id, 1, np.zeros((2, 4, 3), np.uint8))
    assert mode(path) == 0o666 & ~umask


def test_blobs_get_the_mode_the_umask_allows(tmp_path: Path, umask: int) -> None:
    info = BlobStore(tmp_path / "blobs").put(b"frame bytes")
    assert mode(BlobStore(tmp_path / "blobs").path(info.sha256)) == 0o666 & ~umask
