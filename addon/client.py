"""HTTP client for the Underpaint render server (API v1), standard library only.

Every call may block for up to its timeout, so the add-on calls it from worker
threads only (`jobs`), never from Blender's main thread. Failures become a
`ServerError` whose text is a sentence the artist can act on (start the
server, fix the token, pull a model, lower the resolution), never a traceback.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Any


def _addon_version() -> str:
    """The add-on's version from its manifest (zip root when installed, repo root in a checkout)."""
    here = Path(__file__).resolve().parent
    for folder in (here, here.parent):
        manifest = folder / "blender_manifest.toml"
        if manifest.is_file():
            return str(tomllib.loads(manifest.read_text(encoding="utf-8"))["version"])
    raise FileNotFoundError(f"blender_manifest.toml not found beside {here}")


ADDON_VERSION = _addon_version()
# Read size when streaming a downloaded frame to disk.
CHUNK = 1 << 16


class ServerError(Exception):
    """A failure the artist can act on: `str(error)` is the sentence to show, `code` the reason's name."""

    def __init__(self, code: str, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status


class ServerNotRunning(ServerError):
    """Nothing answers at the server address (or it stopped answering)."""


class WrongToken(ServerError):
    """The server wants a token and ours is missing or different."""


class VersionMismatch(ServerError):
    """The server speaks a different release of the API than this add-on."""


class ModelMissing(ServerError):
    """The model set exists but its weights are not on the server's disk."""


class OutOfMemory(ServerError):
    """The device ran out of memory while painting."""


MODEL_MISSING_CODES = frozenset({"model_missing", "model_not_available", "model_unavailable", "weights_missing"})
OUT_OF_MEMORY_CODES = frozenset({"out_of_memory", "oom"})
# "CUDA out of memory", "out of MPS memory", "out of CPU memory while painting ..."
_OUT_OF_MEMORY = re.compile(r"out of (\w+ )?memory")
OOM_ADVICE = (
    "Lower the resolution, paint fewer frames at a time, use fewer controls, "
    "or close other programs that use the GPU, then try again."
)


def pull_command(model: str | None) -> str:
    return f"underpaint models pull {model or 'NAME'}"


def explain(code: str, message: str, *, model: str | None = None, status: int | None = None) -> ServerError:
    """Turn a server error (HTTP body or a failed job's `error`) into the matching actionable `ServerError`."""
    code = code or "error"
    lowered = message.lower()
    if code in MODEL_MISSING_CODES or "models pull" in message:
        hint = "" if "models pull" in message else f" Download it with `{pull_command(model)}`."
        return ModelMissing(code, message.rstrip() + hint, status=status)
    if code in OUT_OF_MEMORY_CODES or _OUT_OF_MEMORY.search(lowered):
        hint = "" if "resolution" in lowered else " " + OOM_ADVICE
        return OutOfMemory(code, message.rstrip() + hint, status=status)
    return ServerError(code, message, status=status)


def versions_compatible(server: str, client: str = ADDON_VERSION) -> bool:
    """Same major version; before 1.0, also the same minor version (0.x releases may change the API)."""
    def parts(version: str) -> tuple[int, int]:
        numbers = (version.split("+")[0].split("-")[0].split(".") + ["0", "0"])[:2]
        return int(numbers[0]), int(numbers[1])

    try:
        s_major, s_minor = parts(server)
        c_major, c_minor = parts(client)
    except ValueError:
        return False
    return s_major == c_major and (c_major > 0 or s_minor == c_minor)


@dataclass(frozen=True)
class Client:
    """One server: its address (`http://host:port`), access token, and the default timeout in seconds."""

    base_url: str
    token: str = ""
    timeout: float = 10.0

    # -- plumbing ---------------------------------------------------------------------------------

    def _url(self, path: str, query: dict[str, str] | None = None) -> str:
        url = self.base_url.rstrip("/") + path
        return url + ("?" + urllib.parse.urlencode(query) if query else "")

    def _open(
        self,
        method: str,
        path: str,
        *,
        data: bytes | None = None,
        content_type: str = "application/json",
        query: dict[str, str] | None = None,
        timeout: float | None = None,
        accept: str = "application/json",
    ) -> HTTPResponse:
        """Send one request; map every way it can fail to a `ServerError` subclass."""
        request = urllib.request.Request(self._url(path, query), data=data, method=method)
        request.add_header("Accept", accept)
        if data is not None:
            request.add_header("Content-Type", content_type)
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            return _OPENER.open(request, timeout=timeout or self.timeout)
        except urllib.error.HTTPError as exc:
            raise self._http_error(exc) from None
        except urllib.error.URLError as exc:
            raise self._unreachable(exc.reason) from None
        except (HTTPException, OSError) as exc:  # timeouts and resets while reading the status line
            raise self._unreachable(exc) from None

    def _unreachable(self, reason: object) -> ServerError:
        if isinstance(reason, TimeoutError):
            return ServerError(
                "timeout", f"The Underpaint server at {self.base_url} did not answer in time ({reason})."
            )
        return ServerNotRunning(
            "not_running",
            f"The Underpaint server is not running at {self.base_url} ({reason}). "
            "Click 'Start Local Server' in the Underpaint panel, or run `underpaint serve`.",
        )

    def _read(self, response: HTTPResponse, size: int = -1) -> bytes:
        """Read a response body; a server that dies or stalls mid-body is reported like an unreachable one."""
        try:
            return response.read(size)
        except (HTTPException, OSError) as exc:
            raise self._unreachable(exc) from None

    def _http_error(self, exc: urllib.error.HTTPError) -> ServerError:
        with exc:
            body = exc.read(1 << 16)
        code, message = _error_fields(body)
        if exc.code == 401 or exc.code == 403:
            if not self.token:
                text = (f"The server at {self.base_url} needs an access token: "
                        "set it in the Underpaint add-on preferences.")
            else:
                text = (f"The server at {self.base_url} refused the access token: "
                        "set the token it was started with (`underpaint serve --token ...`) in the preferences.")
            return WrongToken(code or "wrong_token", text, status=exc.code)
        if exc.code == 404 and not code:
            return ServerError(
                "not_underpaint",
                f"{self.base_url} answered 404 for {exc.url}: is it an Underpaint server of version "
                f"{ADDON_VERSION}?",
                status=404,
            )
        if not message:
            message = f"The server answered HTTP {exc.code} {exc.reason} for {exc.url}."
        return explain(code or f"http_{exc.code}", message, status=exc.code)

    def _json(
        self, method: str, path: str, payload: Any = None, *, query: dict[str, str] | None = None,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        with self._open(method, path, data=data, query=query, timeout=timeout) as response:
            body = self._read(response)
        try:
            value = json.loads(body)
        except ValueError:
            raise ServerError(
                "not_underpaint", f"{self.base_url}{path} did not answer JSON: is it an Underpaint server?"
            ) from None
        if not isinstance(value, dict):
            raise ServerError("bad_response", f"{self.base_url}{path} answered {type(value).__name__}, not an object")
        return value

    # -- API --------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """`GET /v1/health`, refusing a server whose version this add-on cannot talk to."""
        info = self._json("GET", "/v1/health")
        version = str(info.get("version", "?"))
        if not versions_compatible(version):
            raise VersionMismatch(
                "version_mismatch",
                f"The server at {self.base_url} is Underpaint {version}, this add-on is {ADDON_VERSION}: "
                "install matching versions of the add-on and the backend.",
            )
        return info

    def check_model(self, info: dict[str, Any], model: str | None) -> str:
        """The model set a job will use (`model`, else the server's default); refuse one that is not installed."""
        name = model or str(info.get("default_model") or "")
        if not name:
            raise ModelMissing(
                "no_model", "No model set is chosen and the server has none installed to default to: run "
                "`underpaint models pull sd15` in the backend's environment, or choose one in the Model field "
                "(tiny paints random noise, for tests only).",
            )
        models = {str(m.get("name")): m for m in info.get("models", [])}
        if name not in models:
            known = ", ".join(sorted(models)) or "none"
            raise ServerError("unknown_model", f"The server has no model set {name!r} (it knows: {known}).")
        if not models[name].get("available", False):
            detail = str(models[name].get("detail") or "its weights are not on the server's machine")
            hint = "" if "models pull" in detail else f"; run `{pull_command(name)}` in the backend's environment"
            raise ModelMissing(
                "model_missing", f"Model set {name!r} cannot paint: {detail}{hint} (or pick another model set)."
            )
        return name

    def missing_blobs(self, digests: Iterable[str]) -> list[str]:
        """Which of these sha256 digests the server does not hold yet."""
        return list(self._json("POST", "/v1/blobs/missing", {"sha256": sorted(set(digests))})["missing"])

    def upload_blob(self, path: Path, digest: str) -> None:
        """Upload one file's bytes; the server checks them against `digest`."""
        data = path.read_bytes()
        with self._open(
            "POST", "/v1/blobs", data=data, content_type="application/octet-stream", query={"sha256": digest},
            timeout=max(self.timeout, 60.0),
        ) as response:
            self._read(response)

    def upload_missing(
        self,
        files: dict[str, Path],
        progress: Callable[[int, int], None] | None = None,
        should_stop: Callable[[], bool] | None = None,
    ) -> int:
        """Upload those of `files` (sha256 -> path) the server lacks; returns how many were sent."""
        missing = self.missing_blobs(files)
        for done, digest in enumerate(missing):
            if should_stop is not None and should_stop():
                break
            self.upload_blob(files[digest], digest)
            if progress is not None:
                progress(done + 1, len(missing))
        return len(missing)

    def create_job(self, kind: str, params: dict[str, Any], shot: str | None = None) -> str:
        payload: dict[str, Any] = {"kind": kind, "params": params}
        if shot is not None:
            payload["shot"] = shot
        return str(self._json("POST", "/v1/jobs", payload)["id"])

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/jobs/{_quote(job_id)}")

    def cancel_job(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/jobs/{_quote(job_id)}/cancel", {})

    def job_events(self, job_id: str, timeout: float = 15.0) -> Iterator[dict[str, Any]]:
        """Server-sent events of a job: its JSON after every change; ends after a terminal state.

        `timeout` bounds the wait for the next line; a quiet stream raises a `ServerError`
        with code `timeout` and the caller decides whether to reconnect.
        """
        response = self._open(
            "GET", f"/v1/jobs/{_quote(job_id)}/events", timeout=timeout, accept="text/event-stream"
        )
        with response:
            data: list[str] = []
            while True:
                try:
                    raw = response.readline()
                except (HTTPException, OSError) as exc:
                    raise self._unreachable(exc) from None
                if not raw:
                    return
                line = raw.decode("utf-8").rstrip("\r\n")
                if line.startswith("data:"):
                    data.append(line[5:].lstrip(" "))
                elif not line and data:
                    yield json.loads("\n".join(data))
                    data = []

    def takes(self, shot: str) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/takes", query={"shot": shot})["takes"])

    def take(self, take_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/takes/{_quote(take_id)}")

    def download_frame(self, take_id: str, frame: int, destination: Path) -> None:
        """Write frame `frame` (Blender frame number) of a take to `destination`, atomically."""
        self._download(f"/v1/takes/{_quote(take_id)}/frames/{int(frame)}.png", destination)

    def download_control(
        self, shot: str, control: str, frame: int, size: tuple[int, int], destination: Path
    ) -> None:
        """Write control `control` of frame `frame` of an uploaded shot, as a job of `size` draws it, atomically."""
        query = urllib.parse.urlencode({"width": size[0], "height": size[1]})
        self._download(f"/v1/shots/{_quote(shot)}/controls/{_quote(control)}/{int(frame)}.png?{query}", destination)

    def download_temporal_plot(self, take_id: str, destination: Path) -> None:
        """Write the take's flicker curve (server QC) to `destination`, atomically."""
        self._download(f"/v1/takes/{_quote(take_id)}/temporal.png", destination)

    def _download(self, path: str, destination: Path) -> None:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial = destination.with_name(destination.name + ".part")
        with self._open("GET", path, accept="image/png") as response, partial.open("wb") as out:
            while chunk := self._read(response, CHUNK):
                out.write(chunk)
        os.replace(partial, destination)

    def styles(self) -> list[dict[str, Any]]:
        return list(self._json("GET", "/v1/styles").get("styles", []))


def _quote(part: str) -> str:
    return urllib.parse.quote(str(part), safe="")


def _error_fields(body: bytes) -> tuple[str, str]:
    """`(code, message)` of an API error body `{"error": {...}}` (FastAPI's `{"detail": ...}` too)."""
    try:
        value = json.loads(body)
    except ValueError:
        return "", body.decode("utf-8", "replace").strip()[:300]
    if isinstance(value, dict) and isinstance(value.get("error"), dict):
        error = value["error"]
        return str(error.get("code", "")), str(error.get("message", ""))
    if isinstance(value, dict) and "detail" in value:
        return "", str(value["detail"])[:300]
    return "", ""


# Connections go straight to the server: a studio's HTTP proxy must not see loopback traffic or tokens.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
