"""A Python client of HTTP API v1 (httpx): upload a shot package, run a job, fetch the take.

Used by `underpaint stylize --server`, the benchmarks and the API tests.
Uploads are content-addressed: the client asks which blobs the server lacks
and sends only those, shot.json last (a shot is complete once it is there).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from underpaint.shot.models import PackageFile
from underpaint.shot.package import SHOT_FILE, parse_shot_json

TERMINAL = ("done", "failed", "cancelled")


class ServerError(Exception):
    """The server answered with an error: `status`, `code` and its message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


@dataclass(frozen=True)
class UploadResult:
    shot: str  # sha256 of shot.json: how jobs refer to the shot
    sent: list[str]  # package paths uploaded this time
    skipped: int  # files the server already had
    bytes_sent: int


class ServerClient:
    def __init__(self, url: str, token: str | None = None, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ServerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, response: httpx.Response) -> httpx.Response:
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                code, message = error["code"], error["message"]
            except (ValueError, KeyError, TypeError):
                code, message = "http_error", response.text[:500]
            raise ServerError(response.status_code, code, message)
        return response

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self._check(self.http.request(method, path, **kwargs)).json()

    def health(self) -> dict[str, Any]:
        return self._json("GET", "/v1/health")

    def missing(self, shas: list[str]) -> list[str]:
        return self._json("POST", "/v1/blobs/missing", json={"sha256": shas})["missing"]

    def upload_blob(self, data: bytes, sha256: str | None = None) -> str:
        params = {"sha256": sha256} if sha256 else None
        return self._json("POST", "/v1/blobs", content=data, params=params,
                          headers={"Content-Type": "application/octet-stream"})["sha256"]

    def upload_package(self, directory: Path, parallel: int = 4) -> UploadResult:
        """Upload what the server lacks of the package in `directory`; shot.json goes last.

        `parallel` uploads run at once, so per-request latency does not add up over hundreds of frames.
        """
        shot_bytes = (Path(directory) / SHOT_FILE).read_bytes()
        shot_sha = hashlib.sha256(shot_bytes).hexdigest()
        files = parse_shot_json(shot_bytes).files()
        missing = set(self.missing([f.sha256 for f in files] + [shot_sha]))
        todo = list({f.sha256: f for f in files if f.sha256 in missing}.values())

        def send(record: PackageFile) -> int:
            data = (Path(directory) / record.path).read_bytes()
            self.upload_blob(data, record.sha256)
            return len(data)

        with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
            size = sum(pool.map(send, todo))
        sent = [f.path for f in todo]
        if shot_sha in missing:
            self.upload_blob(shot_bytes, shot_sha)
            sent.append(SHOT_FILE)
            size += len(shot_bytes)
        return UploadResult(shot_sha, sent, len(files) + 1 - len(sent), size)

    def submit(self, kind: str, shot: str | None, params: dict[str, Any]) -> str:
        return self._json("POST", "/v1/jobs", json={"kind": kind, "shot": shot, "params": params})["id"]

    def job(self, job_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/jobs/{job_id}")

    def cancel(self, job_id: str) -> dict[str, Any]:
        return self._json("POST", f"/v1/jobs/{job_id}/cancel")

    def events(self, job_id: str) -> Iterator[dict[str, Any]]:
        """The job's progress events as they arrive, ending with its terminal state."""
        with self.http.stream("GET", f"/v1/jobs/{job_id}/events", timeout=None) as response:
            if response.status_code >= 400:
                response.read()
                self._check(response)
            for line in response.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[len("data: "):])

    def wait(self, job_id: str) -> dict[str, Any]:
        """Follow the job's events to its end and return its final state."""
        last = self.job(job_id)
        for event in self.events(job_id):
            last = event
        return last

    def take(self, take_id: str) -> dict[str, Any]:
        return self._json("GET", f"/v1/takes/{take_id}")

    def takes(self, shot: str | None = None) -> list[dict[str, Any]]:
        return self._json("GET", "/v1/takes", params={"shot": shot} if shot else None)["takes"]

    def frame(self, take_id: str, frame: int) -> bytes:
        return self._check(self.http.get(f"/v1/takes/{take_id}/frames/{frame}.png")).content

    def download_take(self, take_id: str, out_dir: Path) -> list[Path]:
        """Every frame of the take on disk, as `NNNN.png` in `out_dir`."""
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = []
        for frame in self.take(take_id)["frames"]:
            path = out_dir / f"{frame:04d}.png"
            path.write_bytes(self.frame(take_id, frame))
            paths.append(path)
        return paths
