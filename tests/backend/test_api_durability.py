"""Nothing is lost: SIGKILL the server mid-job, restart it, and check every take and job."""

from __future__ import annotations

from pathlib import Path

from live_server import LiveServer
from shots import write_shot
from toy_engine import register_toy_engine

from underpaint.client import ServerClient


def test_kill_9_mid_job_then_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    register_toy_engine(data_dir, "toy")
    register_toy_engine(data_dir, "slow", step_delay=0.03, window=2)
    directory = write_shot(tmp_path / "shot", frames=12, width=32, height=24)
    server = LiveServer(data_dir, "--model", "toy").start()
    try:
        with ServerClient(server.url) as client:
            shot = client.upload_package(directory).shot
            finished = client.wait(client.submit("stylize", shot, {"prompt": "done before the crash", "steps": 2}))
            finished_frames = {f: client.frame(finished["take"], f) for f in client.take(finished["take"])["frames"]}
            victim = client.submit("stylize", shot, {"prompt": "killed", "model": "slow", "steps": 20})
            queued = client.submit("stylize", shot, {"prompt": "queued behind it", "steps": 2})
            for event in client.events(victim):
                if event["frames_done"] >= 4:
                    break
            reported = client.take(event["take"])["frames"]
            reported_bytes = {f: client.frame(event["take"], f) for f in reported}
            assert len(reported) >= 4 and client.job(queued)["state"] == "queued"
    finally:
        server.kill()

    with LiveServer(data_dir, "--model", "toy") as restarted, ServerClient(restarted.url) as client:
        killed = client.job(victim)
        assert killed["state"] == "failed" and killed["error"]["code"] == "interrupted"
        assert killed["finished"] is not None
        take = client.take(event["take"])
        assert take["state"] == "failed" and "interrupted" in take["error"]
        assert set(reported) <= set(take["frames"]), "every frame reported before the crash survived"
        assert all(client.frame(take["id"], f) == data for f, data in reported_bytes.items())
        assert all(client.frame(take["id"], f).startswith(b"\x89PNG") for f in take["frames"])

        intact = client.take(finished["take"])
        assert intact["state"] == "done" and set(intact["frames"]) == set(finished_frames)
        assert all(client.frame(intact["id"], f) == data for f, data in finished_frames.items())

        resumed = client.wait(queued)
        assert resumed["state"] == "done" and resumed["frames_done"] == 12, "a queued job is never dropped"
        states = {client.job(j)["state"] for j in (finished["id"], victim, queued)}
        assert "running" not in states and "queued" not in states
    assert not list((data_dir / "takes").rglob("*.tmp"))
