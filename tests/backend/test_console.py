"""What a user reads of long work: progress in windows, steps, frames and time (job API and CLI),
one line per job event on `underpaint serve`, no library noise.

Each case runs the real thing (a live `underpaint serve` with the toy engine, the in-process
`underpaint stylize` with the tiny models) and reads what it reported or printed.
"""

from __future__ import annotations

import io
import re
import sqlite3
import time
from pathlib import Path

import pytest
from live_server import LiveServer
from shots import write_shot
from toy_engine import register_toy_engine

from underpaint.cli import main
from underpaint.cli.stylize import _Printer
from underpaint.client import ServerClient
from underpaint.database import Database
from underpaint.jobs.store import SCHEMA, JobStore
from underpaint.paint.context import Progress
from underpaint.paint.progress import ProgressReporter

PARAMS = {"prompt": "x", "steps": 1, "width": 64, "height": 48}
LIBRARY_NOISE = ("Loading weights", "Writing model shards", "should be kept in float32", "it/s]", "Warning")


def logged(server: LiveServer, pattern: str, timeout: float = 10.0) -> str:
    """The first line of the server's console matching `pattern` (it is written as the job ends)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in server.log.read_text().splitlines():
            if re.search(pattern, line):
                return line
        time.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in:\n{server.log.read_text()[-3000:]}")


def test_serve_logs_one_line_per_job_event(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    register_toy_engine(data_dir, "toy")
    register_toy_engine(data_dir, "broken", fail_after=0)
    with LiveServer(data_dir, "--model", "toy") as live, ServerClient(live.url) as client:
        shot = client.upload_package(write_shot(tmp_path / "shot", frames=3, width=64, height=48)).shot
        good = client.submit("stylize", shot, PARAMS)
        take = client.wait(good)["take"]
        bad = client.submit("stylize", shot, {**PARAMS, "model": "broken"})
        assert client.wait(bad)["state"] == "failed"
        assert "queued" in logged(live, f"job {good} .* queued")
        assert logged(live, f"job {good} .* started")
        done = logged(live, f"job {good} .* done")
        assert re.search(rf"done in \d+\.\d s: take {take}$", done), done
        failed = logged(live, f"job {bad} .* failed")
        assert "[internal_error]: RuntimeError: toy engine failure" in failed, failed
        lines = [line for line in live.log.read_text().splitlines() if good in line]
        assert len(lines) == 3, lines  # progress is not logged: it streams on the job's events


def test_serve_log_level_warning_keeps_job_lines_out(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    register_toy_engine(data_dir, "toy")
    with LiveServer(data_dir, "--model", "toy", "--log-level", "warning") as live, ServerClient(live.url) as client:
        shot = client.upload_package(write_shot(tmp_path / "shot", frames=2, width=64, height=48)).shot
        assert client.wait(client.submit("stylize", shot, PARAMS))["state"] == "done"
    assert " job " not in live.log.read_text()


def test_stylize_keeps_the_model_libraries_quiet_unless_asked(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    shot = write_shot(tmp_path / "shot", frames=2)
    args = ["stylize", str(shot), "--prompt", "x", "--model", "tiny", "--steps", "1", "--width", "32",
            "--height", "24", "--data-dir", str(tmp_path / "data")]
    assert main([*args, "--out", str(tmp_path / "quiet")]) == 0
    printed = capfd.readouterr()
    assert not [noise for noise in LIBRARY_NOISE if noise in printed.out + printed.err], printed.err[-2000:]
    assert "wrote 2 frames" in printed.out


def test_a_running_job_reports_window_step_frames_and_time_left(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    register_toy_engine(data_dir, "slow", step_delay=0.05, window=2)
    with LiveServer(data_dir, "--model", "slow") as live, ServerClient(live.url) as client:
        shot = client.upload_package(write_shot(tmp_path / "shot", frames=6, width=64, height=48)).shot
        job = client.submit("stylize", shot, {**PARAMS, "steps": 3})
        events = list(client.events(job))
    running = [e for e in events if e["state"] == "running" and e["message"].startswith("painting")]
    messages = [e["message"] for e in running]
    # 3 steps asked, 3 windows of 2 frames: the artist reads windows and steps, never `step 4/9`.
    assert "painting: window 1/3, step 1/3, 0/6 frames on disk" in messages, messages
    assert any(m.startswith("painting: window 3/3, step 3/3") for m in messages), messages
    assert all(e["progress"] < 1 for e in events if e["state"] == "running")
    assert all(e["elapsed_s"] is not None for e in running)
    assert all(e["eta_s"] is not None and e["eta_s"] >= 0 for e in running)
    first, last = running[0]["eta_s"], running[-1]["eta_s"]
    assert first > last  # the estimate counts down as the steps go
    assert 0.05 * 8 * 0.5 <= first <= 30  # 8 steps left at about 0.05 s each, on a busy machine
    final = events[-1]
    assert final["state"] == "done" and final["progress"] == 1 and final["eta_s"] is None
    assert final["elapsed_s"] >= 0.05 * 9


def test_a_failed_job_never_reads_100_percent(tmp_path: Path) -> None:
    """Every frame painted and written, then the job fails (recording the take, measuring it): the bar
    was as full as painting fills it, and still the failed job does not read as complete."""
    jobs = JobStore(Database(tmp_path / "jobs.db"))
    job = jobs.submit("stylize", None, {})
    assert jobs.claim_next() is not None
    jobs.report(job.id, 1.0, 4, 4, "wrote frame 4 (4/4 on disk)", 0.0)
    assert jobs.get(job.id).progress < 1
    failed = jobs.finish(job.id, "failed", "the disk is full", ("disk_full", "the disk is full"))
    assert failed.progress < 1 and failed.to_json()["eta_s"] is None
    done = jobs.submit("stylize", None, {})
    jobs.claim_next()
    assert jobs.finish(done.id, "done", "done").progress == 1


def test_the_estimate_follows_the_pace_of_the_steps() -> None:
    now = [100.0]
    seen: list[Progress] = []
    reporter = ProgressReporter(seen.append, frames_total=4, clock=lambda: now[0])
    reporter.say("loading")
    assert seen[-1].eta_seconds is None  # no pace yet
    now[0] += 30.0  # loading the model is not painting
    reporter.painting(steps_per_window=2)
    now[0] += 4.0
    reporter.step(1, 4)
    assert seen[-1].message == "painting: window 1/2, step 1/2, 0/4 frames on disk"
    assert seen[-1].eta_seconds == 12.0
    now[0] += 4.0
    reporter.step(2, 4)
    reporter.frame_written(1)
    assert seen[-1].eta_seconds == 8.0 and seen[-1].frames_done == 1
    assert reporter.where(3, 3) == "step 3/3"  # one window: no window count


def test_on_a_terminal_the_cli_draws_one_bar_with_the_time_left() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    printer = _Printer(screen)
    printer(0.25, "painting: window 1/4, step 2/2, 0/16 frames on disk", eta=95.0)
    printer(0.5, "painting: window 2/4, step 2/2, 4/16 frames on disk", eta=61.0)
    printer(1.0, "done", force=True)
    text = screen.getvalue()
    assert text.count("\r") == 3 and text.endswith("\n") and text.count("\n") == 1
    assert "[######..................]  25% painting: window 1/4" in text
    assert "about 1 min 35 s left" in text and "about 1 min 01 s left" in text


def test_a_job_database_from_before_the_estimate_opens_and_reports_it(tmp_path: Path) -> None:
    """A data dir is kept across upgrades: its jobs table gains the estimate's column on open."""
    old = SCHEMA.replace("    finished TEXT,\n    eta_seconds REAL\n", "    finished TEXT\n")
    assert "eta_seconds" not in old
    with sqlite3.connect(tmp_path / "jobs.db") as conn:
        conn.executescript(old)
        conn.execute("INSERT INTO jobs (id, kind, params, state, created) VALUES (?, 'stylize', '{}', 'queued', ?)",
                     ("a" * 32, "2026-01-01T00:00:00.000000Z"))
    jobs = JobStore(Database(tmp_path / "jobs.db"))
    assert jobs.get("a" * 32).to_json()["eta_s"] is None
    jobs.claim_next()
    jobs.report("a" * 32, 0.5, 1, 2, "painting", 42.0)
    assert jobs.get("a" * 32).to_json()["eta_s"] == 42.0
