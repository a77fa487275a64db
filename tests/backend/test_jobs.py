"""The job queue, the take store and the stylize service, in-process (no HTTP)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from shots import store_in_blobs, write_shot
from toy_engine import register_toy_engine

from underpaint.engines.pool import EngineCache, LocalWorkers
from underpaint.errors import InputError
from underpaint.images import read_png
from underpaint.jobs.kinds import discover
from underpaint.jobs.queue import JobQueue
from underpaint.jobs.store import JobStore
from underpaint.paint.stylize import StylizeParams, run_stylize
from underpaint.server.services import open_services
from underpaint.shot.package import load_package
from underpaint.takes.store import TakeImmutable, TakeStore

STEPS = 4


def wait_for(condition, what: str, timeout: float = 60.0):
    """Poll until `condition()` is truthy (a bound on hangs, not a speed requirement)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    register_toy_engine(tmp_path / "data", "toy")
    register_toy_engine(tmp_path / "data", "slow", step_delay=0.03, window=2)
    register_toy_engine(tmp_path / "data", "broken", window=2, fail_after=1)
    return tmp_path / "data"


@contextmanager
def open_queue(data_dir: Path, ready: threading.Event | None = None) -> Iterator[JobQueue]:
    services = open_services(data_dir)
    services.default_model = lambda: "toy"
    jobs = JobQueue(services, discover(), LocalWorkers(data_dir, ["cpu"]), ready)
    jobs.start()
    try:
        yield jobs
    finally:
        jobs.stop()
        services.db.close()


@pytest.fixture
def queue(data_dir: Path):
    with open_queue(data_dir) as jobs:
        yield jobs


@pytest.fixture
def shot(queue: JobQueue, tmp_path: Path) -> str:
    return store_in_blobs(write_shot(tmp_path / "shot", frames=6, width=32, height=24, pose=True),
                          queue.services.blobs)


def params(**overrides) -> dict:
    return {"prompt": "an oil painting", "steps": STEPS, "width": 32, "height": 24, **overrides}


def finished(queue: JobQueue, job_id: str):
    return wait_for(lambda: (job := queue.get(job_id)).terminal and job, f"job {job_id} to end")


def test_jobs_run_in_submission_order_and_make_takes(queue: JobQueue, shot: str) -> None:
    ids = [queue.submit("stylize", shot, params(seed=i, model="slow" if i == 0 else "toy")).id for i in range(3)]
    jobs = [finished(queue, job_id) for job_id in ids]
    assert [j.state for j in jobs] == ["done"] * 3
    assert jobs[0].started <= jobs[1].started <= jobs[2].started
    assert [j.take for j in jobs] == ["sh010-001", "sh010-002", "sh010-003"]
    take = queue.services.takes.get(jobs[2].take)
    assert take.state == "done" and take.frames == [1, 2, 3, 4, 5, 6] and take.shot_sha == shot
    assert take.params["seed"] == 2 and take.params["model"] == "toy" and take.work_units == 6 * STEPS
    assert jobs[2].progress == 1.0 and jobs[2].frames_done == jobs[2].frames_total == 6


def test_cancel_of_a_queued_job_is_immediate(queue: JobQueue, shot: str) -> None:
    running = queue.submit("stylize", shot, params(model="slow", steps=10)).id
    waiting = queue.submit("stylize", shot, params()).id
    cancelled = queue.cancel(waiting)
    assert cancelled.state == "cancelled" and cancelled.started is None
    assert finished(queue, running).state == "done"
    assert queue.get(waiting).take is None


def test_cancel_stops_a_running_job_within_one_step_and_keeps_its_frames(queue: JobQueue, shot: str) -> None:
    job_id = queue.submit("stylize", shot, params(model="slow", steps=10)).id
    wait_for(lambda: queue.get(job_id).frames_done >= 2, "two frames")
    at_cancel = queue.cancel(job_id)
    job = finished(queue, job_id)
    assert job.state == "cancelled" and job.error_code is None
    one_step = 0.95 / (10 * 3)  # 3 windows of 10 steps
    assert job.progress - at_cancel.progress <= one_step + 1e-9, "no more than the step in flight"
    take = queue.services.takes.get(job.take)
    assert take.state == "cancelled" and len(take.frames) == job.frames_done >= 2
    for frame in take.frames:
        assert read_png(queue.services.takes.frame_path(take.id, frame)).shape == (24, 32, 3)


def test_a_failing_engine_fails_the_job_not_the_worker(queue: JobQueue, shot: str) -> None:
    broken = finished(queue, queue.submit("stylize", shot, params(model="broken")).id)
    assert broken.state == "failed" and broken.error_code == "internal_error"
    assert "toy engine failure" in broken.error_message
    take = queue.services.takes.get(broken.take)
    assert take.state == "failed" and take.frames == [1, 2], "frames painted before the failure are kept"
    assert finished(queue, queue.submit("stylize", shot, params()).id).state == "done"


def test_workers_take_no_job_before_the_queue_is_ready(data_dir: Path, tmp_path: Path) -> None:
    """The server holds its workers until the engines are imported: transformers' lazy imports are not
    thread-safe, so a job importing them beside the catalog's warm-up could fail."""
    ready = threading.Event()
    with open_queue(data_dir, ready) as queue:
        shot = store_in_blobs(write_shot(tmp_path / "shot", frames=2, width=32, height=24), queue.services.blobs)
        job_id = queue.submit("stylize", shot, params()).id
        time.sleep(0.5)  # time for an ungated worker to claim it
        assert queue.get(job_id).state == "queued"
        ready.set()
        assert finished(queue, job_id).state == "done"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"frames": [0, 3]}, "frame_out_of_range"),
        ({"frames": [5, 9]}, "frame_out_of_range"),
        ({"prompts": [{"frame": 40, "prompt": "later"}]}, "frame_out_of_range"),
        ({"model": "no-such-set"}, "unknown_model"),
        ({"use_color": True}, "missing_color"),
        ({"styles": [{"name": "nope", "weight": 1.0}]}, "unknown_style"),
        ({"steps": 0}, "invalid_params"),
        ({"width": 30}, "invalid_params"),
        ({"controls": {"depth": {"start": 0.8, "end": 0.2}}}, "invalid_params"),
        ({"surprise": 1}, "invalid_params"),
    ],
)
def test_bad_params_are_refused_at_submit(queue: JobQueue, shot: str, overrides: dict, code: str) -> None:
    with pytest.raises(InputError) as caught:
        queue.submit("stylize", shot, params(**overrides))
    assert caught.value.code == code, caught.value.message
    assert queue.services.jobs.list() == []


def test_unknown_kind_and_unknown_shot_are_refused(queue: JobQueue) -> None:
    with pytest.raises(InputError, match="unknown job kind 'paint'"):
        queue.submit("paint", "a" * 64, params())
    with pytest.raises(InputError) as caught:
        queue.submit("stylize", "a" * 64, params())
    assert caught.value.code == "missing_blobs"


def test_stylize_service_paints_a_range_without_a_server(data_dir: Path, tmp_path: Path) -> None:
    package = load_package(write_shot(tmp_path / "shot", frames=5, width=40, height=20, pose=True))
    takes = TakeStore.open(data_dir)
    reports = []
    take_id = run_stylize(
        package,
        StylizeParams(prompt="ink", prompts=[{"frame": 3, "prompt": "watercolour"}], frames=(2, 4), steps=2,
                      controls={"depth": {}, "pose": {"weight": 0.5}}),
        takes=takes, engines=EngineCache(data_dir, "cpu").get, default_model="toy", report=reports.append,
    )
    take = takes.get(take_id)
    assert (take.frame_start, take.frame_end, take.frames) == (2, 4, [2, 3, 4])
    assert (take.width, take.height) == (512, 256), "default size keeps the shot's 2:1 aspect"
    assert take.control["depth_range"][1] == 10.0 and take.control["resize"].startswith("crop")
    frames_reported = [r.frames_done for r in reports]
    assert frames_reported == sorted(frames_reported) and frames_reported[-1] == 3
    fractions = [r.fraction for r in reports]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # The prompt schedule switches at Blender frame 3: the toy engine tints by prompt.
    painted = [takes.read_frame(take_id, f).astype(int) for f in (2, 3, 4)]
    assert np.abs(painted[0] - painted[1]).mean() > np.abs(painted[1] - painted[2]).mean()


def test_takes_are_immutable_and_recover_after_a_crash(data_dir: Path) -> None:
    takes = TakeStore.open(data_dir)
    take = takes.create(shot="sh 010", shot_sha=None, kind="stylize", params={}, frame_start=1, frame_end=3,
                        width=8, height=4)
    assert take.id == "sh-010-001"
    frame = np.zeros((4, 8, 3), np.uint8)
    takes.write_frame(take.id, 1, frame)
    with pytest.raises(TakeImmutable):
        takes.write_frame(take.id, 1, frame)
    with pytest.raises(TakeImmutable):
        takes.write_frame(take.id, 7, frame)
    # A crash after the rename but before the row, and one in the middle of a write:
    (takes.directory(take.id) / "0002.png").write_bytes((takes.directory(take.id) / "0001.png").read_bytes())
    (takes.directory(take.id) / ".0003.png-x.tmp").write_bytes(b"half a png")
    child = takes.create(shot="sh 010", shot_sha=None, kind="refine", params={}, frame_start=1, frame_end=3,
                         width=8, height=4, parent=take.id)
    takes.finish(child.id, "done")
    recovered = TakeStore.open(data_dir).recover()
    assert [t.id for t in recovered] == [take.id]
    after = takes.get(take.id)
    assert after.state == "failed" and after.frames == [1, 2] and "2 frames kept" in after.error
    assert not list(takes.directory(take.id).glob("*.tmp"))
    assert takes.get(child.id).parent == take.id and takes.get(child.id).state == "done"
    with pytest.raises(TakeImmutable):
        takes.write_frame(take.id, 3, frame)


def test_jobs_left_running_are_failed_on_recovery(data_dir: Path) -> None:
    services = open_services(data_dir)
    job = services.jobs.submit("stylize", None, {})
    assert services.jobs.claim_next().id == job.id
    [failed] = JobStore(services.db).recover()
    assert failed.state == "failed" and failed.error_code == "interrupted" and failed.finished
