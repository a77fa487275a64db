"""Job machinery that needs no server: where a take's frames go, and a worker that cannot reach anyone.

The whole loop against a real server, timer ticks included, is in test_stylize.py.
"""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from types import ModuleType

import bpy
import pytest


@pytest.fixture(scope="module")
def jobs(addon: str) -> ModuleType:
    return sys.modules[f"{addon}.jobs"]


@pytest.fixture(scope="module")
def files(addon: str) -> ModuleType:
    return sys.modules[f"{addon}.files"]


@pytest.fixture(scope="module")
def client_module(addon: str) -> ModuleType:
    return sys.modules[f"{addon}.client"]


def test_take_ids_from_the_server_never_leave_the_takes_folder(files: ModuleType, tmp_path: Path) -> None:
    for hostile in ("../../etc", "/abs/path", "a/b", "..", ""):
        folder = files.fresh_folder(tmp_path, hostile)
        assert folder.parent == tmp_path and folder.name not in ("", ".", "..")


def test_a_second_server_reusing_a_take_id_gets_its_own_folder(files: ModuleType, tmp_path: Path) -> None:
    first = files.fresh_folder(tmp_path, "shot-001")
    assert first == tmp_path / "shot-001"
    first.mkdir()
    assert files.fresh_folder(tmp_path, "shot-001") == first  # empty: nothing to protect
    files.frame_path(first, 1).write_bytes(b"png")
    assert files.fresh_folder(tmp_path, "shot-001") == tmp_path / "shot-001-2"


def test_frames_are_named_like_blender_numbers_them(files: ModuleType, tmp_path: Path) -> None:
    assert files.frame_path(tmp_path, 7).name == "0007.png"
    assert files.frame_path(tmp_path, 12345).name == "12345.png"


def test_unreachable_server_fails_the_job_with_the_reason(
    jobs: ModuleType, client_module: ModuleType, tmp_path: Path
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    request = jobs.JobRequest(kind="fetch", scene=bpy.context.scene.name, take="t1", frames_folder=tmp_path,
                              label="Load take t1")
    job = jobs.start(jobs.Job(request, client_module.Client(f"http://127.0.0.1:{port}", timeout=2)))
    deadline = time.monotonic() + 20
    while not job.finished:
        assert time.monotonic() < deadline
        jobs.tick()
        time.sleep(0.02)
    assert job.state == "failed" and job.error_code == "not_running"
    assert "not running" in job.message
    status = bpy.context.scene.underpaint.job
    assert (status.state, status.kind, status.error_code) == ("failed", "fetch", "not_running")
