"""The add-on's HTTP client against answers the real server gives rarely or never on purpose:
another version, a refused token, a port where nothing listens, a non-Underpaint service,
errors from a failed job. A small stdlib server in this file plays the counterpart;
the whole loop against the real `underpaint serve` is in test_stylize.py.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest


@pytest.fixture(scope="module")
def client_module(addon: str) -> ModuleType:
    return sys.modules[f"{addon}.client"]


class _Counterpart(BaseHTTPRequestHandler):
    """Answers from `self.server.routes`: (method, path) -> (status, headers, body bytes)."""

    def log_message(self, *_args: Any) -> None:
        pass

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.server.seen.append((self.command, self.path, self.headers.get("Authorization"),
                                 self.rfile.read(length)))
        status, headers, body = self.server.routes.get((self.command, self.path.split("?")[0]),
                                                       (404, {}, b'{"detail": "Not Found"}'))
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer


@pytest.fixture(scope="module")
def _running_counterpart() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Counterpart)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture()
def counterpart(_running_counterpart: ThreadingHTTPServer) -> ThreadingHTTPServer:
    _running_counterpart.routes, _running_counterpart.seen = {}, []
    return _running_counterpart


def _url(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def _json(value: Any, status: int = 200) -> tuple[int, dict[str, str], bytes]:
    return status, {}, json.dumps(value).encode()


def _health(version: str = "0.1.0", **extra: Any) -> dict[str, Any]:
    return {"status": "ok", "version": version, "device": "cpu", "engines": ["animatediff"],
            "models": [{"name": "tiny", "engine": "animatediff", "available": True},
                       {"name": "sd15", "engine": "animatediff", "available": False}],
            "default_model": "sd15", "auth_required": False, **extra}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_nothing_listening_is_server_not_running_with_the_fix(client_module: ModuleType) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    with pytest.raises(client_module.ServerNotRunning) as caught:
        client_module.Client(url, timeout=2).health()
    assert url in str(caught.value) and "Start Local Server" in str(caught.value)


def test_other_major_version_is_a_version_mismatch(client_module: ModuleType, counterpart: Any) -> None:
    counterpart.routes[("GET", "/v1/health")] = _json(_health(version="0.9.2"))
    with pytest.raises(client_module.VersionMismatch, match=r"0\.9\.2.*0\.1\.0"):
        client_module.Client(_url(counterpart)).health()
    counterpart.routes[("GET", "/v1/health")] = _json(_health(version="0.1.7"))
    assert client_module.Client(_url(counterpart)).health()["version"] == "0.1.7"


def test_refused_token_is_wrong_token_and_the_token_is_sent(client_module: ModuleType, counterpart: Any) -> None:
    error = {"error": {"code": "unauthorized", "message": "missing or wrong token"}}
    counterpart.routes[("GET", "/v1/health")] = _json(error, status=401)
    with pytest.raises(client_module.WrongToken, match="needs an access token"):
        client_module.Client(_url(counterpart)).health()
    with pytest.raises(client_module.WrongToken, match="refused the access token"):
        client_module.Client(_url(counterpart), token="s3cret").health()
    assert counterpart.seen[-1][2] == "Bearer s3cret"


def test_not_an_underpaint_server_is_named(client_module: ModuleType, counterpart: Any) -> None:
    counterpart.routes[("GET", "/v1/health")] = (200, {"Content-Type": "text/html"}, b"<html>router</html>")
    with pytest.raises(client_module.ServerError, match="not answer JSON"):
        client_module.Client(_url(counterpart)).health()
    del counterpart.routes[("GET", "/v1/health")]
    with pytest.raises(client_module.ServerError, match="404"):
        client_module.Client(_url(counterpart)).health()


def test_missing_model_names_the_pull_command(client_module: ModuleType) -> None:
    client = client_module.Client("http://127.0.0.1:1")
    info = _health()
    assert client.check_model(info, "tiny") == "tiny"
    with pytest.raises(client_module.ModelMissing, match="underpaint models pull sd15"):
        client.check_model(info, None)
    with pytest.raises(client_module.ServerError, match="no model set 'nope'.*sd15, tiny"):
        client.check_model(info, "nope")
    from_job = client_module.explain("model_missing", "Weights for 'sd15' are not on disk.", model="sd15")
    assert isinstance(from_job, client_module.ModelMissing) and "underpaint models pull sd15" in str(from_job)
    engine = client_module.explain("engine_error", "not found locally: unet; run `underpaint models pull sd15`")
    assert isinstance(engine, client_module.ModelMissing) and str(engine).count("models pull") == 1


def test_out_of_memory_suggests_what_to_lower(client_module: ModuleType) -> None:
    error = client_module.explain("engine_error", "CUDA out of memory. Tried to allocate 2.00 GiB")
    assert isinstance(error, client_module.OutOfMemory)
    assert "Lower the resolution" in str(error)
    worded = client_module.explain("engine_error", "out of CUDA memory while painting frames 1-16; lower the "
                                   "resolution or the number of frames per window")
    assert isinstance(worded, client_module.OutOfMemory) and "Lower the resolution" not in str(worded)


def test_api_error_body_becomes_the_message(client_module: ModuleType, counterpart: Any) -> None:
    counterpart.routes[("POST", "/v1/jobs")] = _json(
        {"error": {"code": "frame_range", "message": "frames 90-99 lie outside the shot 1-48"}}, status=400)
    with pytest.raises(client_module.ServerError, match="outside the shot") as caught:
        client_module.Client(_url(counterpart)).create_job("stylize", {"prompt": "x"}, shot="ab" * 32)
    assert caught.value.code == "frame_range" and caught.value.status == 400
    sent = json.loads(counterpart.seen[-1][3])
    assert sent == {"kind": "stylize", "params": {"prompt": "x"}, "shot": "ab" * 32}


def test_event_stream_yields_each_job_state(client_module: ModuleType, counterpart: Any) -> None:
    events = [{"id": "j1", "state": "running", "progress": 0.5}, {"id": "j1", "state": "done", "progress": 1.0}]
    body = b": keep-alive\n\n" + b"".join(b"event: job\ndata: " + json.dumps(e).encode() + b"\n\n" for e in events)
    counterpart.routes[("GET", "/v1/jobs/j1/events")] = (200, {"Content-Type": "text/event-stream"}, body)
    assert list(client_module.Client(_url(counterpart)).job_events("j1")) == events


def test_upload_sends_only_missing_blobs(client_module: ModuleType, counterpart: Any, tmp_path: Path) -> None:
    files = {}
    for name in ("a", "b", "c"):
        path = tmp_path / name
        path.write_bytes(name.encode() * 10)
        files[name * 64] = path
    counterpart.routes[("POST", "/v1/blobs/missing")] = _json({"missing": ["b" * 64]})
    counterpart.routes[("POST", "/v1/blobs")] = _json({"sha256": "b" * 64, "size": 10})
    sent = client_module.Client(_url(counterpart)).upload_missing(files)
    uploads = [s for s in counterpart.seen if s[1].startswith("/v1/blobs?")]
    assert sent == 1 and len(uploads) == 1
    assert uploads[0][1] == "/v1/blobs?sha256=" + "b" * 64 and uploads[0][3] == b"b" * 10


def test_frame_download_is_atomic(client_module: ModuleType, counterpart: Any, tmp_path: Path) -> None:
    counterpart.routes[("GET", "/v1/takes/t1/frames/7.png")] = (200, {"Content-Type": "image/png"}, b"\x89PNG...")
    target = tmp_path / "t1" / "0007.png"
    client_module.Client(_url(counterpart)).download_frame("t1", 7, target)
    assert target.read_bytes() == b"\x89PNG..." and not list(tmp_path.glob("t1/*.part"))
    with pytest.raises(client_module.ServerError):
        client_module.Client(_url(counterpart)).download_frame("t1", 8, tmp_path / "t1" / "0008.png")
    assert not (tmp_path / "t1" / "0008.png").exists()


@pytest.mark.parametrize(("server", "compatible"), [("0.1.0", True), ("0.1.9+cuda", True), ("0.2.0", False),
                                                     ("1.0.0", False), ("garbage", False)])
def test_version_rule(client_module: ModuleType, server: str, compatible: bool) -> None:
    assert client_module.versions_compatible(server, "0.1.0") is compatible
