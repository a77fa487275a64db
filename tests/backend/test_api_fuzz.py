"""Fuzz-style: a corpus of broken shot packages sent to a live server; each gets a 4xx, the server lives."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import httpx
import pytest
from broken_shots import CASES, GOOD, broken_package, rehash
from live_server import LiveServer
from shots import write_shot
from toy_engine import register_toy_engine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("fuzz") / "data"
    register_toy_engine(data_dir, "toy")
    with LiveServer(data_dir, "--model", "toy") as live:
        yield live


def upload_raw(url: str, directory: Path) -> str:
    """Upload every file of a (possibly broken) package as it is, without client-side checks."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        response = httpx.post(f"{url}/v1/blobs", content=path.read_bytes(),
                              headers={"Content-Type": "application/octet-stream"})
        assert response.status_code == 200, response.text
    return hashlib.sha256((directory / "shot.json").read_bytes()).hexdigest()


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_broken_package_gets_a_4xx_naming_the_problem(server: LiveServer, case, tmp_path: Path) -> None:
    shot = upload_raw(server.url, broken_package(case, tmp_path))
    response = httpx.post(f"{server.url}/v1/jobs", json={"kind": "stylize", "shot": shot,
                                                          "params": {"prompt": "x", "controls": {"pose": {}}}})
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert error["code"] == (case.blob_code or case.code), error["message"]
    assert "Traceback" not in response.text
    health = httpx.get(f"{server.url}/v1/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"


def test_random_byte_flips_never_crash_the_server(server: LiveServer, tmp_path: Path) -> None:
    """Flip bytes in a good package's files: every submission is accepted or refused with a 4xx, never a 5xx."""
    rng = random.Random(5)
    good = write_shot(tmp_path / "good", **GOOD)
    files = sorted(p for p in good.rglob("*") if p.is_file() and p.name != "shot.json")
    for attempt in range(12):
        target = rng.choice(files)
        data = bytearray(target.read_bytes())
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        broken = tmp_path / f"flip{attempt}"
        broken.mkdir()
        for path in files + [good / "shot.json"]:
            out = broken / path.relative_to(good)
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_bytes(bytes(data) if path == target else path.read_bytes())
        rehash(broken)
        shot = upload_raw(server.url, broken)
        response = httpx.post(f"{server.url}/v1/jobs", json={"kind": "stylize", "shot": shot,
                                                              "params": {"prompt": "x", "steps": 1}})
        assert response.status_code in (201, 400, 413, 422), response.text
        if response.status_code == 201:
            job = httpx.get(f"{server.url}/v1/jobs/{response.json()['id']}").json()
            assert job["state"] in ("queued", "running", "done", "failed")
    assert httpx.get(f"{server.url}/v1/health").status_code == 200
