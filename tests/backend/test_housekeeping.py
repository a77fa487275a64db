"""`underpaint gc`: old failed takes and unreferenced blobs go; done takes, lineage and live inputs stay."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from live_server import LiveServer
from shots import store_in_blobs, write_shot

from underpaint.blobs import BlobStore
from underpaint.cli import main
from underpaint.database import Database
from underpaint.jobs.store import JobStore
from underpaint.takes.checkpoints import CheckpointStore
from underpaint.takes.housekeeping import collect
from underpaint.takes.store import DB_FILE, TAKES_DIR, Take, TakeImmutable, TakeStore

HOUR = 3600.0


def age(path: Path, hours: float) -> None:
    stamp = time.time() - hours * HOUR
    os.utime(path, (stamp, stamp))


def take(takes: TakeStore, state: str, shot_sha: str | None, parent: str | None = None,
         params: dict | None = None) -> Take:
    new = takes.create(shot="sh 010", shot_sha=shot_sha, kind="stylize", params=params or {}, frame_start=1,
                       frame_end=1, width=4, height=2, parent=parent)
    takes.write_frame(new.id, 1, np.zeros((2, 4, 3), np.uint8))
    return takes.finish(new.id, state)


@pytest.fixture
def data(tmp_path: Path) -> dict:
    blobs = BlobStore(tmp_path / "blobs")
    db = Database(tmp_path / DB_FILE)
    takes = TakeStore(db, tmp_path / TAKES_DIR)
    kept_shot = store_in_blobs(write_shot(tmp_path / "kept", frames=2, width=16, height=8), blobs)
    lost_shot = store_in_blobs(write_shot(tmp_path / "lost", frames=2, width=16, height=8, color=True), blobs)
    job_shot = store_in_blobs(write_shot(tmp_path / "job", frames=1, width=8, height=8, pose=True), blobs)
    reference = blobs.put(b"a reference image of a take").sha256
    queued_reference = blobs.put(b"a reference image of a queued job").sha256
    stray = blobs.put(b"an upload nobody used").sha256
    for _, path in blobs.iter_blobs():
        age(path, 48)
    young = blobs.put(b"uploaded a minute ago").sha256
    done = take(takes, "done", kept_shot, params={"references": [reference]})
    failed_parent = take(takes, "failed", kept_shot)
    refined = take(takes, "done", kept_shot, parent=failed_parent.id)
    failed = take(takes, "failed", lost_shot)
    cancelled = take(takes, "cancelled", lost_shot)
    JobStore(db).submit("stylize", job_shot, {"prompt": "x", "references": [queued_reference]})
    return dict(
        dir=tmp_path, blobs=blobs, takes=takes, kept_shot=kept_shot, lost_shot=lost_shot, job_shot=job_shot,
        reference=reference, queued_reference=queued_reference, stray=stray, young=young, done=done,
        failed_parent=failed_parent, refined=refined, failed=failed, cancelled=cancelled,
    )


def test_gc_removes_only_what_nothing_needs(data: dict, capsys: pytest.CaptureFixture) -> None:
    blobs: BlobStore = data["blobs"]
    before = {sha for sha, _ in blobs.iter_blobs()}
    assert main(["gc", "--older-than", "0", "--data-dir", str(data["dir"])]) == 0
    out = capsys.readouterr().out
    assert "removed 2 takes" in out
    left = {t.id for t in data["takes"].list()}
    assert left == {data["done"].id, data["failed_parent"].id, data["refined"].id}, "done takes and lineage stay"
    assert not data["takes"].directory(data["failed"].id).exists()
    after = {sha for sha, _ in blobs.iter_blobs()}
    gone = before - after
    assert data["stray"] in gone and data["lost_shot"] in gone
    for kept in ("kept_shot", "job_shot", "reference", "queued_reference", "young"):
        assert data[kept] in after, kept
    # every file a kept shot lists is still there, so the done take can still be edited
    from underpaint.shot.package import assemble_package

    assemble_package(data["kept_shot"], blobs)
    assemble_package(data["job_shot"], blobs)


def test_dry_run_removes_nothing_and_failed_takes_wait_for_their_age(data: dict) -> None:
    blobs: BlobStore = data["blobs"]
    before = sorted(sha for sha, _ in blobs.iter_blobs())
    dry = collect(blobs, data["takes"], [], older_than_days=0, dry_run=True)
    assert sorted(dry.takes) == sorted([data["failed"].id, data["cancelled"].id]) and dry.freed_bytes > 0
    assert sorted(sha for sha, _ in blobs.iter_blobs()) == before and len(data["takes"].list()) == 5
    recent = collect(blobs, data["takes"], [], older_than_days=7)
    assert recent.takes == [], "takes that failed today are kept for a week"


def test_a_done_take_cannot_be_deleted(data: dict) -> None:
    with pytest.raises(TakeImmutable):
        data["takes"].delete(data["done"].id)


def test_serve_with_a_retention_setting_collects_at_start(tmp_path: Path) -> None:
    """`serve --retention-days 0`: what `gc --older-than 0` would remove goes while the server serves."""
    data_dir = tmp_path / "data"
    blobs = BlobStore(data_dir / "blobs")
    takes = TakeStore(Database(data_dir / DB_FILE), data_dir / TAKES_DIR)
    shot = store_in_blobs(write_shot(tmp_path / "shot", frames=1, width=8, height=8), blobs)
    stray = blobs.put(b"an upload nobody used").sha256
    for _, path in blobs.iter_blobs():
        age(path, 48)
    done, failed = take(takes, "done", shot), take(takes, "failed", shot)
    with LiveServer(data_dir, "--retention-days", "0") as live:
        deadline = time.monotonic() + 30
        while takes.directory(failed.id).exists() or blobs.path(stray).exists():
            assert time.monotonic() < deadline, live.log.read_text()[-2000:]
            time.sleep(0.1)
        assert "retention: removed 1 failed takes and 1 unused uploads" in live.log.read_text()
    assert takes.get(done.id).state == "done" and takes.directory(done.id).is_dir()
    assert blobs.path(shot).exists()  # the done take's shot is still referenced


def test_a_checkpoint_left_beside_a_finished_take_goes_and_a_running_takes_stays(tmp_path: Path) -> None:
    takes = TakeStore(Database(tmp_path / DB_FILE), tmp_path / TAKES_DIR)
    checkpoints = CheckpointStore(tmp_path)
    done = take(takes, "done", None)
    running = takes.create(shot="sh 010", shot_sha=None, kind="stylize", params={}, frame_start=1, frame_end=1,
                           width=4, height=2)
    for take_id in (done.id, running.id):
        checkpoints.of(take_id).save({"step": np.array(5)})
    dry = collect(BlobStore(tmp_path / "blobs"), takes, [], dry_run=True, checkpoints=checkpoints)
    assert dry.checkpoints == [done.id] and checkpoints.takes() == sorted([done.id, running.id])
    collect(BlobStore(tmp_path / "blobs"), takes, [], checkpoints=checkpoints)
    assert checkpoints.takes() == [running.id]
    assert int(checkpoints.of(running.id).load()["step"]) == 5  # type: ignore[index]
