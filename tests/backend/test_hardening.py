"""Hardening: no cross-site access to the local server, honest disk-full errors, a worker that never dies.

Each case is the attack or the bad luck itself against a real server: a forged Host (DNS rebinding), a
foreign Origin, a `text/plain` cross-site POST, a data directory on a full disk (a small tmpfs: CI runs
as root), a database that stops taking writes while a job paints.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer
from shots import write_shot
from toy_engine import register_toy_engine

from underpaint.client import ServerClient, ServerError


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("hardening") / "data"
    register_toy_engine(data_dir, "toy")
    with LiveServer(data_dir, "--model", "toy") as live:
        yield live


def post(server: LiveServer, path: str, **kwargs: object) -> httpx.Response:
    return httpx.post(server.url + path, timeout=30, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.evil.example", "10.0.0.5"])
def test_a_forged_host_is_refused(server: LiveServer, host: str) -> None:
    """DNS rebinding: a page of evil.example whose name now points at 127.0.0.1 sends its own Host."""
    response = httpx.get(server.url + "/v1/takes", headers={"Host": host})
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden_host"
    assert host.split(":")[0] in response.json()["error"]["message"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "LOCALHOST:9999", "[::1]:8765"])
def test_loopback_hosts_are_served(server: LiveServer, host: str) -> None:
    assert httpx.get(server.url + "/v1/health", headers={"Host": host}).status_code == 200


def test_a_foreign_origin_is_refused_and_the_servers_own_is_served(server: LiveServer) -> None:
    blob = b"planted by a web page"
    forged = post(server, "/v1/blobs", content=blob,
                  headers={"Origin": "https://evil.example", "Content-Type": "application/octet-stream"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "forbidden_origin"
    for origin in ("null", "http://127.0.0.1.evil.example"):
        refused = httpx.get(server.url + "/v1/takes", headers={"Origin": origin})
        assert refused.status_code == 403, origin
    # The server's own /docs page (same origin) still works.
    own = httpx.get(server.url + "/v1/health", headers={"Origin": server.url})
    assert own.status_code == 200


def test_a_cross_site_simple_post_is_refused(server: LiveServer) -> None:
    """A form or fetch() without preflight can only send text/plain, urlencoded or multipart bodies."""
    with ServerClient(server.url) as client:
        assert client.missing(["a" * 64]) == ["a" * 64], "the add-on's and the CLI's JSON requests still pass"
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        blob = post(server, "/v1/blobs", content=b"xyz", headers={"Content-Type": content_type})
        assert blob.status_code == 415 and blob.json()["error"]["code"] == "unsupported_media_type", content_type
        job = post(server, "/v1/jobs", content=b'{"kind": "stylize"}', headers={"Content-Type": content_type})
        assert job.status_code == 415, content_type


def test_options_lists_the_methods_each_path_serves(server: LiveServer) -> None:
    jobs = httpx.options(server.url + "/v1/jobs")
    assert jobs.status_code == 204 and jobs.headers["allow"] == "GET, HEAD, OPTIONS, POST", jobs.headers
    one = httpx.options(server.url + "/v1/jobs/" + "0" * 32)
    assert one.status_code == 204 and one.headers["allow"] == "GET, HEAD, OPTIONS"
    missing = httpx.options(server.url + "/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    forged = httpx.options(server.url + "/v1/jobs", headers={"Host": "evil.example"})
    assert forged.status_code == 403  # the Host guard comes first, OPTIONS included


def test_an_empty_sha256_is_a_check_that_fails_not_no_check(server: LiveServer) -> None:
    headers = {"Content-Type": "application/octet-stream"}
    empty = post(server, "/v1/blobs?sha256=", content=b"bytes", headers=headers)
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "invalid_sha256"
    assert post(server, "/v1/blobs", content=b"bytes", headers=headers).status_code == 200


@pytest.fixture()
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 24 MiB tmpfs: room for the server's database and a few frames, not for a large upload."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True)
    assert done.returncode == 0, f"mounting a tmpfs needs root (CI runs as root): {done.stderr.decode()}"
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(folder: Path, leave: int = 0) -> Path:
    """Fill the disk holding `folder` until at most `leave` bytes are free; the file to delete to free it."""
    ballast = folder / "ballast"
    with ballast.open("wb") as out:
        chunk = b"\0" * (1 << 20)
        try:
            while shutil.disk_usage(folder).free > leave + len(chunk):
                out.write(chunk)
                out.flush()
            out.write(b"\0" * max(shutil.disk_usage(folder).free - leave, 0))
        except OSError:
            pass
    return ballast


def test_a_full_disk_is_507_naming_the_folder_and_the_server_keeps_serving(small_disk: Path) -> None:
    data_dir = small_disk / "data"
    register_toy_engine(data_dir, "toy")
    with LiveServer(data_dir, "--model", "toy") as live:
        ballast = fill(small_disk, leave=1 << 20)
        upload = post(live, "/v1/blobs", content=b"\1" * (3 << 20), headers={"Content-Type": "application/octet-stream"})
        assert upload.status_code == 507, upload.text
        error = upload.json()["error"]
        assert error["code"] == "disk_full" and str(data_dir) in error["message"] and "free" in error["message"]
        assert not list((data_dir / "blobs").glob(".upload-*")), "the failed upload left its temp file"
        assert httpx.get(live.url + "/v1/health").status_code == 200
        ballast.unlink()
        assert post(live, "/v1/blobs", content=b"\1" * 1000,
                    headers={"Content-Type": "application/octet-stream"}).status_code == 200


def test_a_job_whose_take_cannot_fit_is_refused_at_submit(small_disk: Path, tmp_path: Path) -> None:
    data_dir = small_disk / "data"
    register_toy_engine(data_dir, "toy")
    with LiveServer(data_dir, "--model", "toy") as live, ServerClient(live.url) as client:
        shot = client.upload_package(write_shot(tmp_path / "shot", frames=40, width=64, height=48)).shot
        fill(small_disk, leave=2 << 20)
        with pytest.raises(ServerError) as refused:
            client.submit("stylize", shot, {"prompt": "x", "width": 2048, "height": 1536})
        assert refused.value.status == 507 and refused.value.code == "disk_full"
        assert "MB free" in refused.value.message and "needs about" in refused.value.message


def test_the_worker_survives_a_database_it_cannot_write_and_records_the_first_cause(
    small_disk: Path, tmp_path: Path
) -> None:
    data_dir = small_disk / "data"
    register_toy_engine(data_dir, "slow", step_delay=0.05, window=1)
    with LiveServer(data_dir, "--model", "slow") as live, ServerClient(live.url) as client:
        shot = client.upload_package(write_shot(tmp_path / "shot", frames=30, width=64, height=48)).shot
        job = client.submit("stylize", shot, {"prompt": "x", "steps": 4, "width": 64, "height": 48})
        deadline = time.monotonic() + 60
        while client.job(job)["frames_done"] < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        ballast = fill(small_disk)
        deadline = time.monotonic() + 60
        while (health := client.health())["workers"][0]["state"] != "failing":
            assert time.monotonic() < deadline, health
            time.sleep(0.1)
        assert health["status"] == "degraded" and "disk" in health["workers"][0]["error"].lower()
        ballast.unlink()
        final = client.wait(job)
        assert final["state"] == "failed" and final["error"]["code"] == "disk_full", final
        # The worker lives on: the next job paints.
        again = client.submit("stylize", shot, {"prompt": "y", "steps": 1, "width": 64, "height": 48})
        assert client.wait(again)["state"] == "done"
        assert client.health()["status"] == "ok"


def test_no_test_set_is_picked_behind_the_artists_back(tmp_path: Path) -> None:
    """With no real weights installed, nothing paints until a set is named: `tiny` would paint noise."""
    with LiveServer(tmp_path / "data") as live, ServerClient(live.url) as client:
        health = client.health()
        assert health["default_model"] is None
        tiny = next(m for m in health["models"] if m["name"] == "tiny")
        assert tiny["available"] and tiny["built_locally"]
        shot = client.upload_package(write_shot(tmp_path / "shot", frames=2, width=32, height=24)).shot
        with pytest.raises(ServerError) as refused:
            client.submit("stylize", shot, {"prompt": "x"})
        assert refused.value.code == "no_model" and "underpaint models pull sd15" in refused.value.message
        named = client.submit("stylize", shot, {"prompt": "x", "model": "tiny", "steps": 1, "width": 32, "height": 24})
        assert client.wait(named)["state"] == "done"
