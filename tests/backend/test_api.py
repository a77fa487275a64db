"""HTTP API v1 through a real `underpaint serve` process on a free loopback port."""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
from live_server import LAUNCH, LiveServer
from PIL import Image
from shots import write_shot
from toy_engine import TOY_ENGINE_DIR, register_toy_engine

from underpaint.api.app import ServerSettings, create_app
from underpaint.cli import doctor
from underpaint.client import ServerClient, ServerError
from underpaint.jobs.kinds import discover

STEPS = 5


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    data_dir = tmp_path_factory.mktemp("server") / "data"
    register_toy_engine(data_dir, "toy")
    register_toy_engine(data_dir, "slow", step_delay=0.03, window=2)
    with LiveServer(data_dir, "--model", "toy", "--max-upload-mb", "1") as live:
        yield live


@pytest.fixture(scope="module")
def shot(client: ServerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = write_shot(tmp_path_factory.mktemp("shot"), frames=6, width=32, height=24, pose=True)
    return client.upload_package(directory).shot


def test_health_describes_the_server(client: ServerClient) -> None:
    health = client.health()
    assert health["status"] == "ok" and health["version"] == "0.1.0"
    assert health["device"] == "cpu" and health["auth_required"] is False
    assert health["default_model"] == "toy" and "stylize" in health["job_kinds"]
    toy = next(m for m in health["models"] if m["name"] == "toy")
    assert toy == {
        "name": "toy", "engine": "toy_engine:FACTORY", "available": True,
        "description": "deterministic test engine", "detail": "", "built_locally": False,
        "download_gb": None, "vram_gb": None, "speed": "", "use_for": "",
        "controls": [{"name": "depth", "label": "Depth", "default_weight": 1.0},
                     {"name": "normal", "label": "Normal", "default_weight": 0.7},
                     {"name": "pose", "label": "Pose", "default_weight": 1.0},
                     {"name": "edges", "label": "Edges", "default_weight": 0.8}],
        "native_size": [64, 64], "size_multiple": 8, "frame_multiple": 1, "frame_remainder": 0,
        "window": 4, "context": 4,
        "capabilities": {"masks": True, "references": True, "styles": True, "video2video": True, "cache": False,
                         "draft": False},
        "draft": None,
    }
    assert "toy_engine:FACTORY" in health["engines"]
    # Every built-in set says what it can do, whether or not its weights are here.
    sd15 = next(m for m in health["models"] if m["name"] == "sd15")
    assert sd15["available"] is False and "models pull sd15" in sd15["detail"]
    assert [c["name"] for c in sd15["controls"]] == ["depth", "normal", "pose", "edges"]
    assert sd15["native_size"] == [512, 512] and sd15["capabilities"]["references"] is False
    assert sd15["draft"] == {"steps": 4, "guidance": 1.0} and sd15["capabilities"]["draft"] is True
    vace = next(m for m in health["models"] if m["name"] == "wan-vace-1.3b")
    assert [c["name"] for c in vace["controls"]] == ["depth", "pose", "edges"]
    assert (vace["frame_multiple"], vace["frame_remainder"], vace["size_multiple"]) == (4, 1, 16)


def test_an_upload_sends_only_the_missing_blobs(client: ServerClient, tmp_path: Path) -> None:
    directory = write_shot(tmp_path / "shot", frames=5, width=16, height=8, name="upload", color=True)
    first = client.upload_package(directory)
    assert len(first.sent) == 5 + 5 + 1 and first.skipped == 0
    again = client.upload_package(directory)
    assert again.sent == [] and again.shot == first.shot
    write_shot(directory, frames=5, width=16, height=8, name="upload", color=True, changed={2, 4})
    changed = client.upload_package(directory)
    assert sorted(changed.sent) == ["color/0002.png", "color/0004.png", "passes/0002.exr", "passes/0004.exr",
                                    "shot.json"]
    assert changed.shot != first.shot and changed.skipped == 6


def test_submit_progress_events_done_and_frames(server: LiveServer, client: ServerClient, shot: str) -> None:
    job_id = client.submit("stylize", shot, {"prompt": "gouache", "model": "slow", "steps": STEPS, "seed": 3,
                                             "controls": {"depth": {}, "normal": {}, "pose": {"weight": 0.7}}})
    events = list(client.events(job_id))
    final = events[-1]
    assert final["state"] == "done" and final["progress"] == 1.0 and final["error"] is None
    assert final["frames_done"] == final["frames_total"] == 6
    progress = [e["progress"] for e in events]
    frames_done = [e["frames_done"] for e in events]
    assert progress == sorted(progress) and frames_done == sorted(frames_done)
    running = [e for e in events if e["state"] == "running"]
    assert len({e["progress"] for e in running}) > 3 * 2, "progress arrives per denoising step, not per window"
    assert any(0 < e["frames_done"] < 6 for e in running), "frames are reported as they are written"
    take = client.take(final["take"])
    assert take["state"] == "done" and take["frames"] == [1, 2, 3, 4, 5, 6] and take["kind"] == "stylize"
    assert take["params"]["seed"] == 3 and take["control"]["depth_range"] == [pytest.approx(2.5, abs=0.1), 10.0]
    for frame in take["frames"]:
        data = client.frame(take["id"], frame)
        assert data == (server.data_dir / "takes" / take["id"] / f"{frame:04d}.png").read_bytes()
        assert np.asarray(Image.open(io.BytesIO(data))).shape == (take["height"], take["width"], 3)
    assert take["id"] in [t["id"] for t in client.takes(shot="sh010")]
    assert client.takes(shot="no-such-shot") == []


def test_cancel_over_http_keeps_the_frames_already_painted(client: ServerClient, shot: str) -> None:
    job_id = client.submit("stylize", shot, {"prompt": "charcoal", "model": "slow", "steps": 20})
    last = None
    for event in client.events(job_id):
        last = event
        if event["frames_done"] >= 2 and event["state"] == "running":
            assert client.cancel(job_id)["id"] == job_id
    assert last["state"] == "cancelled" and last["error"] is None
    take = client.take(last["take"])
    assert take["state"] == "cancelled" and len(take["frames"]) == last["frames_done"] >= 2
    assert all(client.frame(take["id"], f).startswith(b"\x89PNG") for f in take["frames"])
    assert client.cancel(job_id)["state"] == "cancelled", "cancelling twice is harmless"


def _raw(server: LiveServer, method: str, path: str, **kwargs) -> httpx.Response:
    return httpx.request(method, server.url + path, timeout=30, **kwargs)


UNKNOWN_JOB = "0" * 32
# What every client sends with a blob (a body without its type is refused, as a cross-site page could send it).
OCTET = {"Content-Type": "application/octet-stream"}
BAD_REQUESTS = [
    ("GET", f"/v1/jobs/{UNKNOWN_JOB}", {}, 404, "unknown_job"),
    ("GET", "/v1/jobs/not-a-job-id", {}, 404, "unknown_job"),
    ("POST", f"/v1/jobs/{UNKNOWN_JOB}/cancel", {}, 404, "unknown_job"),
    ("GET", f"/v1/jobs/{UNKNOWN_JOB}/events", {}, 404, "unknown_job"),
    ("GET", "/v1/takes/sh010-999", {}, 404, "unknown_take"),
    ("GET", "/v1/takes/%2e%2e/frames/1.png", {}, 404, "unknown_take"),
    ("GET", "/v1/takes/..%5C..%5Cetc/frames/1.png", {}, 404, "unknown_take"),
    ("GET", "/v1/takes/sh010-001/frames/shot.json", {}, 404, "unknown_frame"),
    ("GET", "/v1/takes/sh010-001/frames/99.png", {}, 404, "unknown_frame"),
    ("POST", "/v1/jobs", {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400,
     "malformed_json"),
    ("POST", "/v1/jobs", {"json": {"kind": "stylize", "params": {"prompt": "x"}}}, 400, "invalid_request"),
    ("POST", "/v1/jobs", {"json": {"kind": "paint", "shot": "a" * 64}}, 400, "unknown_kind"),
    ("POST", "/v1/jobs", {"json": {"kind": "stylize", "shot": "../../etc/passwd", "params": {"prompt": "x"}}}, 400, "invalid_sha256"),
    ("POST", "/v1/jobs", {"json": {"kind": "stylize", "shot": "a" * 64, "extra": 1}}, 422, "invalid_request"),
    ("POST", "/v1/jobs", {"json": {"kind": "stylize", "shot": "a" * 64, "params": {"prompt": "x"}}}, 400,
     "missing_blobs"),
    ("POST", "/v1/blobs/missing", {"json": {"sha256": ["../x"]}}, 422, "invalid_request"),
    ("POST", "/v1/blobs?sha256=XYZ", {"content": b"abc", "headers": OCTET}, 400, "invalid_sha256"),
    ("POST", f"/v1/blobs?sha256={'a' * 64}", {"content": b"abc", "headers": OCTET}, 400, "hash_mismatch"),
    ("GET", "/v1/nothing-here", {}, 404, "not_found"),
    ("DELETE", "/v1/health", {}, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status", "code"), BAD_REQUESTS,
                         ids=[f"{m} {p[:40]} {c}" for m, p, _, _, c in BAD_REQUESTS])
def test_bad_requests_get_json_errors_and_the_server_keeps_serving(
    server: LiveServer, method: str, path: str, kwargs: dict, status: int, code: str
) -> None:
    response = _raw(server, method, path, **kwargs)
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code and len(body["error"]["message"]) > 10
    assert "Traceback" not in response.text
    assert _raw(server, "GET", "/v1/health").status_code == 200


def test_params_checked_against_the_shot(server: LiveServer, shot: str) -> None:
    response = _raw(server, "POST", "/v1/jobs",
                    json={"kind": "stylize", "shot": shot, "params": {"prompt": "x", "frames": [4, 60]}})
    assert response.status_code == 400 and response.json()["error"]["code"] == "frame_out_of_range"
    assert "4-60" in response.json()["error"]["message"]
    response = _raw(server, "POST", "/v1/jobs",
                    json={"kind": "stylize", "shot": shot, "params": {"prompt": "x", "steps": -1}})
    assert response.status_code == 422 and "params.steps" in response.json()["error"]["message"]


def test_oversized_bodies_are_refused(server: LiveServer, client: ServerClient) -> None:
    big = b"x" * (1 << 20) + b"x"
    declared = _raw(server, "POST", "/v1/blobs", content=big, headers=OCTET)
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "too_large"
    streamed = _raw(server, "POST", "/v1/blobs", content=iter([big[:600_000], big[600_000:]]), headers=OCTET)
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "too_large"
    huge_json = _raw(server, "POST", "/v1/blobs/missing", json={"sha256": ["a" * 64] * 20_000})
    assert huge_json.status_code == 413 and huge_json.json()["error"]["code"] == "too_large"
    assert client.missing([hashlib.sha256(big).hexdigest()]) != [], "nothing was stored"
    assert client.health()["status"] == "ok"


def test_a_token_guards_every_request(tmp_path: Path) -> None:
    with LiveServer(tmp_path / "data", token="s3cret") as live:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"}):
            response = httpx.get(f"{live.url}/v1/health", headers=headers)
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"
        upload = httpx.post(f"{live.url}/v1/blobs", content=b"secret bytes", headers=OCTET)
        assert upload.status_code == 401
        # FastAPI's own pages too: the API description is the server's business.
        for path in ("/openapi.json", "/docs", "/redoc", "/no-such-page"):
            response = httpx.get(f"{live.url}{path}")
            assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized", path
        with ServerClient(live.url, token="s3cret") as c:
            assert c.health()["auth_required"] is True
            assert c.missing([hashlib.sha256(b"secret bytes").hexdigest()]) != []
            schema = c.http.get("/openapi.json")
            assert schema.status_code == 200 and "/v1/jobs" in schema.json()["paths"]


def test_binding_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, "serve", "--host", "0.0.0.0", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=60,
        env={k: v for k, v in os.environ.items() if k != "UNDERPAINT_TOKEN"},
    )
    assert result.returncode == 2
    assert "refusing to bind 0.0.0.0 without a token" in result.stderr and "--token" in result.stderr


def test_doctor_reports_the_machine_and_reaches_the_server(server: LiveServer) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, "doctor", "--server", server.url, "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([TOY_ENGINE_DIR, os.environ.get("PYTHONPATH", "")])},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for expected in ("python", "torch", "device     cpu", "memory", "toy (toy_engine:FACTORY): available",
                     f"{server.url} reachable: version 0.1.0"):
        assert expected in result.stdout
    assert doctor.check_server("http://127.0.0.1:9", None) is False


def test_a_second_server_on_the_same_data_is_refused(server: LiveServer) -> None:
    result = subprocess.run(
        [sys.executable, "-c", LAUNCH, "serve", "--port", "0", "--data-dir", str(server.data_dir)],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1 and "another underpaint server is already using" in result.stderr
    assert httpx.get(f"{server.url}/v1/health").status_code == 200


def test_openapi_documents_every_job_kind_and_the_error_body(tmp_path: Path) -> None:
    spec = create_app(ServerSettings(tmp_path)).openapi()
    body = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body["discriminator"]["propertyName"] == "kind"
    assert set(body["discriminator"]["mapping"]) == set(discover())
    schemas = spec["components"]["schemas"]
    stylize = schemas["StylizeJob"]["properties"]["params"]["$ref"].rsplit("/", 1)[1]
    assert {"prompt", "controls", "frames"} <= set(schemas[stylize]["properties"])
    assert schemas[stylize]["properties"]["controls"]["propertyNames"]["enum"] == ["depth", "normal", "pose", "edges"]
    for path, methods in spec["paths"].items():
        assert path.startswith("/v1/")
        for method, operation in methods.items():
            for status in ("400", "404", "422", "500"):
                assert operation["responses"][status]["content"]["application/json"]["schema"] == {
                    "$ref": "#/components/schemas/ErrorOut"
                }, f"{method.upper()} {path} {status}"


def test_a_take_of_a_shot_with_motion_serves_its_flicker_plot(
    server: LiveServer, client: ServerClient, shot: str, tmp_path: Path
) -> None:
    moving = client.upload_package(write_shot(tmp_path / "moving", frames=4, width=32, height=24, motion=True)).shot
    take = client.take(client.wait(client.submit("stylize", moving, {"prompt": "ink", "model": "toy"}))["take"])
    assert [p["frames"] for p in take["metrics"]["temporal"]["pairs"]] == [[1, 2], [2, 3], [3, 4]]
    plot = httpx.get(f"{server.url}/v1/takes/{take['id']}/temporal.png")
    assert plot.status_code == 200 and plot.headers["content-type"] == "image/png"
    assert Image.open(io.BytesIO(plot.content)).size == (900, 320)
    still = client.take(client.wait(client.submit("stylize", shot, {"prompt": "ink", "model": "toy"}))["take"])
    assert "temporal" not in still["metrics"]
    missing = httpx.get(f"{server.url}/v1/takes/{still['id']}/temporal.png")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_temporal"


def test_a_draft_on_a_set_without_draft_models_is_refused_at_submit(client: ServerClient, shot: str) -> None:
    with pytest.raises(ServerError) as refused:
        client.submit("stylize", shot, {"prompt": "ink", "model": "toy", "quality": "draft"})
    assert refused.value.code == "unsupported_draft" and "has no draft models" in refused.value.message
    with pytest.raises(ServerError) as invalid:
        client.submit("stylize", shot, {"prompt": "ink", "model": "toy", "quality": "rough"})
    assert invalid.value.status == 422 and "quality" in invalid.value.message
