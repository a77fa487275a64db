"""What a user's console shows: one line per job event on `underpaint serve`, no library noise.

Each case runs the real command (a live `underpaint serve`, the in-process `underpaint stylize`
with the tiny models) and reads what it printed.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from live_server import LiveServer
from shots import write_shot
from toy_engine import register_toy_engine

from underpaint.cli import main
from underpaint.client import ServerClient

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
