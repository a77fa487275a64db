"""The job module without Blender: requests -> params, what health says of a model set, the files a job
reads and writes, and the worker and its follow loop against a real `underpaint serve` (toy engine).

Nothing here imports `bpy`, so it runs in Blender's Python with the rest of the suite and in the
backend's plain Python alone:
    PYTHONPATH=$PWD/backend:. .venv/bin/python -m pytest tests/addon/test_job_module.py
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from live_backend import BackendServer, write_shot

from addon import client as api
from addon import files
from addon.jobs import Control, FetchTake, Job, Paint, Refine, Rerender, Shot, Style, Stylize, TrainStyle
from addon.model_sets import LEGACY_CONTROLS, ControlSpec, ModelSet, find

PAINT = Paint(prompt="ink", negative_prompt="blur", seed=3, steps=2, guidance=6.0,
              controls=(Control("depth", 0.75), Control("edges", 0.3)), styles=(Style("inkwash", 0.5),))
SHOT = Shot(Path("/tmp/pkg"), Path("/tmp/takes"))


def test_each_kind_sends_its_params() -> None:
    common = {"prompt": "ink", "negative_prompt": "blur", "seed": 3, "steps": 2, "guidance": 6.0,
              "controls": {"depth": {"weight": 0.75, "start": 0.0, "end": 1.0},
                           "edges": {"weight": 0.3, "start": 0.0, "end": 1.0}},
              "use_color": False, "strength": 0.6, "styles": [{"name": "inkwash", "weight": 0.5}], "cache": False,
              "quality": "final"}
    assert Stylize(SHOT, PAINT, 64, 48).params("tiny") == common | {"width": 64, "height": 48, "model": "tiny"}
    assert Rerender(SHOT, PAINT, "t1", (3, 4)).params("tiny") == common | {"parent_take": "t1", "frames": [3, 4]}
    refine = Refine(SHOT, PAINT, "t1", ("Ball",), dilate=2)
    assert refine.params("tiny") == common | {"parent_take": "t1", "mask": {"objects": ["Ball"], "dilate": 2}}
    assert Refine(SHOT, PAINT, "t1", ("Ball",), frames=(2, 3)).params("tiny")["frames"] == [2, 3]
    train = TrainStyle("look", {"a.png": Path("a.png")}, steps=2).params("tiny", {"a.png": "ab" * 32})
    assert train == {"name": "look", "files": {"a.png": "ab" * 32}, "model": "tiny", "steps": 2, "rank": 8,
                     "resolution": 512, "trigger": "look", "force": False}
    json.dumps(train)


def test_a_model_set_is_read_from_its_health_entry() -> None:
    entry = {"name": "wan", "engine": "wan-vace", "available": True, "detail": "",
             "controls": [{"name": "depth", "label": "Depth", "default_weight": 1.0},
                          {"name": "edges", "label": "Edges", "default_weight": 0.8}],
             "native_size": [832, 480], "size_multiple": 16, "frame_multiple": 4, "frame_remainder": 1,
             "window": 81, "capabilities": {"masks": True, "references": True, "styles": False, "video2video": True}}
    wan = find([{"name": "other"}, entry], "wan")
    assert wan is not None and [c.name for c in wan.controls] == ["depth", "edges"]
    assert wan.controls[1].default_weight == 0.8 and wan.native_size == (832, 480)
    assert not wan.can("styles") and wan.can("masks")
    assert wan.auto_size(16 / 9) == (848, 480)
    assert wan.auto_size(9 / 16) == (480, 848)
    assert ModelSet("sd", native_size=(512, 512)).auto_size(16 / 9) == (680, 384)
    assert find([entry], "missing") is None


def test_an_older_server_that_says_little_falls_back() -> None:
    odd = ModelSet.from_health({"name": "x", "controls": [{"name": "depth", "default_weight": "strong"}, "pose"],
                                "native_size": [512], "size_multiple": 0, "capabilities": None})
    assert odd.controls == (ControlSpec("depth", "Depth", 1.0),) and odd.native_size is None
    assert odd.size_multiple == 8 and odd.can("masks")
    old = ModelSet.from_health({"name": "tiny", "engine": "animatediff", "available": True})
    assert old.controls is None and old.native_size is None and old.auto_size(1.5) is None
    assert old.size_multiple == 8 and all(old.can(c) for c in ("masks", "references", "styles", "video2video"))
    assert [(c.name, c.default_weight) for c in LEGACY_CONTROLS] == [("depth", 1.0), ("normal", 0.7), ("pose", 1.0)]


def test_take_ids_from_the_server_never_leave_the_takes_folder(tmp_path: Path) -> None:
    for hostile in ("../../etc", "/abs/path", "a/b", "..", ""):
        folder = files.fresh_folder(tmp_path, hostile)
        assert folder.parent == tmp_path and folder.name not in ("", ".", "..")
    assert files.folder_name("Shot 010/b") == "Shot_010_b"


def test_a_second_server_reusing_a_take_id_gets_its_own_folder(tmp_path: Path) -> None:
    first = files.fresh_folder(tmp_path, "shot-001")
    assert first == tmp_path / "shot-001"
    first.mkdir()
    assert files.fresh_folder(tmp_path, "shot-001") == first  # empty: nothing to protect
    files.frame_path(first, 1).write_bytes(b"png")
    assert files.fresh_folder(tmp_path, "shot-001") == tmp_path / "shot-001-2"


def test_frames_are_named_like_blender_numbers_them(tmp_path: Path) -> None:
    assert files.frame_path(tmp_path, 7).name == "0007.png"
    assert files.frame_path(tmp_path, 12345).name == "12345.png"


def test_one_hash_for_every_file(tmp_path: Path) -> None:
    path = tmp_path / "blob"
    path.write_bytes(bytes(range(256)) * 5000)  # over one read block
    assert files.sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


# -- the worker against a real server ---------------------------------------------------------------

@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    running = BackendServer(tmp_path_factory.mktemp("server") / "data", "--model", "toy", toy=("toy",))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shot(tmp_path_factory.mktemp("shot") / "package", frames=4, width=32, height=24, motion=True)


def run(job: Job, timeout: float = 120.0, messages: list[str] | None = None) -> list[str]:
    """Apply the worker's updates as the timer would, until the job ends; the states it went through
    (and into `messages`, every line the panel showed)."""
    states = [job.state]
    deadline = time.monotonic() + timeout
    while not job.finished:
        assert time.monotonic() < deadline, f"job still {job.state}: {job.message}"
        if job.apply_updates():
            if job.state != states[-1]:
                states.append(job.state)
            if messages is not None and (not messages or messages[-1] != job.message):
                messages.append(job.message)
        time.sleep(0.01)
    return states


def test_the_worker_paints_a_shot_and_downloads_the_take(
    server: BackendServer, package: Path, tmp_path: Path
) -> None:
    paint = Paint(prompt="ink", seed=4, steps=2, controls=(Control("depth", 0.5),))
    job = Job(Stylize(Shot(package, tmp_path), paint, 32, 24), api.Client(server.url), "Stylize sh010").start()
    shown: list[str] = []
    states = run(job, messages=shown)
    assert job.state == "done", job.message
    # While it paints, the panel says the frames on disk and the time spent, not only a step count.
    assert any(re.fullmatch(r"(painting: step \d/2|wrote frame \d).*on disk.* \(\d+ s(, about .* left)?\)", m)
               for m in shown), "\n".join(shown)
    assert states[0] == "checking" and states[-1] == "done" and "downloading" in states
    assert job.take is not None and job.frames_folder == tmp_path / files.folder_name(job.take["id"])
    assert sorted(p.name for p in job.frames_folder.glob("*.png")) == [
        "0001.png", "0002.png", "0003.png", "0004.png", files.TEMPORAL_PLOT]  # the shot has motion: QC ran
    sent = server.get(f"/v1/takes/{job.take['id']}")["params"]
    assert sent["controls"]["depth"]["weight"] == 0.5 and sent["model"] == "toy"

    again = Job(FetchTake(job.take["id"], tmp_path / "fetched"), api.Client(server.url)).start()
    run(again)
    assert again.state == "done"
    assert ({p.name: files.sha256_file(p) for p in (tmp_path / "fetched").glob("*.png")}
            == {p.name: files.sha256_file(p) for p in job.frames_folder.glob("*.png")})
    assert job.take["metrics"]["temporal"]["median"] >= 0


def test_cancel_stops_the_job_on_the_server(server: BackendServer, package: Path, tmp_path: Path) -> None:
    job = Job(Stylize(Shot(package, tmp_path), Paint(prompt="ink", steps=150), 32, 24),
              api.Client(server.url)).start()
    deadline = time.monotonic() + 60
    while job.state not in ("queued", "running"):
        assert time.monotonic() < deadline and not job.finished, job.message
        job.apply_updates()
        time.sleep(0.01)
    job.cancel()
    run(job)
    assert job.state == "cancelled"
    assert server.get(f"/v1/jobs/{job.server_id}")["state"] == "cancelled"
    assert not list(tmp_path.iterdir())


def test_unreachable_server_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    job = Job(FetchTake("t1", tmp_path), api.Client(f"http://127.0.0.1:{port}", timeout=2)).start()
    run(job, timeout=20)
    assert job.state == "failed" and job.error_code == "not_running" and "not running" in job.message
