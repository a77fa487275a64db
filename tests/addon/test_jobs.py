"""The job module's Blender side (`job_timer`): a job's state reaches the scene's settings through the tick.

The worker itself is tested without Blender in test_job_module.py; the whole loop against a
real server, operators included, is in test_stylize.py.
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
def job_timer(addon: str) -> ModuleType:
    return sys.modules[f"{addon}.job_timer"]


def test_unreachable_server_fails_the_job_in_the_scene(addon: str, job_timer: ModuleType, tmp_path: Path) -> None:
    jobs = sys.modules[f"{addon}.jobs"]
    client_module = sys.modules[f"{addon}.client"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    job = jobs.Job(jobs.FetchTake("t1", tmp_path), client_module.Client(f"http://127.0.0.1:{port}", timeout=2),
                   "Load take t1")
    scene = bpy.context.scene.name
    job_timer.start(job, scene)
    assert job_timer.busy(scene) and job_timer.active(scene) is job
    deadline = time.monotonic() + 20
    while not job.finished:
        assert time.monotonic() < deadline
        job_timer.tick()
        time.sleep(0.02)
    assert job.state == "failed" and job.error_code == "not_running"
    status = bpy.context.scene.underpaint.job
    assert (status.state, status.kind, status.error_code) == ("failed", "fetch", "not_running")
    assert "not running" in status.message and not job_timer.busy(scene)
