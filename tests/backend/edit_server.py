"""A real `underpaint serve` painting with the tiny AnimateDiff set, for the rerender and refine tests.

    with tiny_server(data_dirs("name")) as client:
        shot = client.upload_package(write_shot(...)).shot
        parent = run_job(client, "stylize", shot, paint_params())

Everything goes through HTTP API v1: the job queue, the real engine with
tiny random weights (the session's, shared through `data_dirs`), the take
store. Small sizes and 2 steps keep it fast on a CPU.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from live_server import LiveServer
from PIL import Image

from underpaint.client import ServerClient

STEPS = 2
WIDTH, HEIGHT = 32, 24
# The tiny set's context windows (models.toml): the default edit context is its overlap.
WINDOW, OVERLAP = 8, 2


@contextmanager
def tiny_server(data_dir: Path) -> Iterator[ServerClient]:
    with LiveServer(data_dir, "--model", "tiny") as server, ServerClient(server.url, timeout=120) as client:
        yield client


def paint_params(**overrides: Any) -> dict[str, Any]:
    return {"prompt": "a gouache painting", "model": "tiny", "steps": STEPS, "width": WIDTH, "height": HEIGHT,
            "seed": 7, **overrides}


def run_job(client: ServerClient, kind: str, shot: str, params: dict[str, Any]) -> dict[str, Any]:
    """Submit a job, follow it to its end, and return its take's JSON (the job must succeed)."""
    job = client.wait(client.submit(kind, shot, params))
    assert job["state"] == "done", job
    return client.take(job["take"])


def frame_files(client: ServerClient, take: dict[str, Any]) -> dict[int, bytes]:
    """Every frame of a take as the PNG bytes the server serves."""
    return {frame: client.frame(take["id"], frame) for frame in take["frames"]}


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)
