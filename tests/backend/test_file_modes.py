"""Published files follow the umask, so a compositor or farm account can read a take."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from shots import write_shot

from underpaint.blobs import BlobStore
from underpaint.cli import main
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


def test_stylize_out_frames_get_the_mode_the_umask_allows(tmp_path: Path, umask: int) -> None:
    shot = write_shot(tmp_path / "shot", frames=2)
    out = tmp_path / "out"
    assert main(["stylize", str(shot), "--prompt", "x", "--model", "tiny", "--steps", "1", "--width", "32",
                 "--height", "24", "--out", str(out), "--data-dir", str(tmp_path / "data")]) == 0
    assert {p.name: mode(p) for p in out.iterdir()} == {"0001.png": 0o666 & ~umask, "0002.png": 0o666 & ~umask}
