"""Resumable jobs: a job running when the server stops (kill -9, or a shutdown) resumes from its checkpoint
after the restart and paints the same bytes as an uninterrupted run."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from conftest import DataDirFactory
from edit_server import frame_files
from live_server import LiveServer
from shots import write_shot

from underpaint.client import ServerClient
from underpaint.engines.pool import LocalWorkers
from underpaint.jobs.kinds import discover
from underpaint.jobs.queue import JobQueue
from underpaint.server.services import open_services

PARAMS = {"prompt": "a gouache painting", "model": "tiny", "steps": 30, "width": 64, "height": 48, "seed": 3}


def wait_for_checkpoint(client: ServerClient, job_id: str, data_dir: Path, saves: int = 1) -> str:
    """The job's take once its checkpoint was written `saves` times (a new file each time)."""
    deadline, seen, last = time.monotonic() + 120, 0, None
    while time.monotonic() < deadline:
        job = client.job(job_id)
        assert job["state"] in ("queued", "running"), f"the job ended before it could be interrupted: {job}"
        path = data_dir / "checkpoints" / f"{job['take']}.npz" if job["take"] else None
        if path is not None and path.is_file():
            stamp = path.stat().st_mtime_ns
            if stamp != last:
                seen, last = seen + 1, stamp
            if seen >= saves:
                return str(job["take"])
        time.sleep(0.01)
    raise AssertionError("no checkpoint was written")


def test_a_job_resumes_after_kill_9_and_after_a_shutdown_with_the_same_bytes(
    data_dirs: DataDirFactory, tmp_path: Path
) -> None:
    data_dir = data_dirs("resume")
    shot_dir = write_shot(tmp_path / "shot", frames=40, width=64, height=48)
    server = LiveServer(data_dir, "--model", "tiny").start()
    try:
        with ServerClient(server.url, timeout=120) as client:
            shot = client.upload_package(shot_dir).shot
            victim = client.submit("stylize", shot, PARAMS)
            take = wait_for_checkpoint(client, victim, data_dir)
    finally:
        server.kill()  # kill -9: nothing is recorded
    with LiveServer(data_dir, "--model", "tiny") as restarted, ServerClient(restarted.url, timeout=120) as client:
        after = client.job(victim)
        assert after["state"] in ("queued", "running"), f"put back in the queue, not failed: {after}"
        assert client.take(take)["state"] == "running"
        wait_for_checkpoint(client, victim, data_dir, saves=2)  # resumed, and saving again
    # The shutdown (SIGTERM) stops the job at its next step and leaves it to resume too.
    assert (data_dir / "checkpoints" / f"{take}.npz").is_file()
    with LiveServer(data_dir, "--model", "tiny") as again, ServerClient(again.url, timeout=120) as client:
        job = client.wait(victim)
        assert job["state"] == "done" and job["take"] == take, (job["message"], job["error"])
        assert job["frames_done"] == job["frames_total"] == 40, "the frames painted before count too"
        resumed = client.take(take)
        assert resumed["state"] == "done" and resumed["frames"] == list(range(1, 41))
        fresh = client.take(client.wait(client.submit("stylize", shot, PARAMS))["take"])
        assert frame_files(client, resumed) == frame_files(client, fresh), "the same bytes as an uninterrupted run"
    assert not list((data_dir / "checkpoints").iterdir()), "checkpoints are removed when the job ends"


def test_a_job_cancelled_while_queued_to_resume_ends_its_take_and_checkpoint(tmp_path: Path) -> None:
    services = open_services(tmp_path)
    queue = JobQueue(services, discover(), LocalWorkers(tmp_path, []))  # no worker: the job stays queued
    take = services.takes.create(shot="sh010", shot_sha=None, kind="stylize", params={}, frame_start=1,
                                 frame_end=2, width=8, height=8)
    job = services.jobs.submit("stylize", None, {})
    services.jobs.set_take(job.id, take.id)
    assert services.checkpoints is not None
    services.checkpoints.of(take.id).save({"step": np.array(5)})
    assert queue.cancel(job.id).state == "cancelled"
    assert services.takes.get(take.id).state == "cancelled" and services.checkpoints.takes() == []
