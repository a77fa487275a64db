"""`GET /v1/shots/{shot}/controls/{control}/{frame}.png`: what the model will see, frame by frame.

Each image must be the one a stylize job of that size and fit draws, shot-wide depth range
included, so Show Controls in the add-on shows what the painting will follow.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pytest
from live_server import LiveServer
from PIL import Image
from shots import write_shot

from underpaint.client import ServerClient
from underpaint.control import ResizePlan, make_controls
from underpaint.shot.package import load_package


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, Path]]:
    root = tmp_path_factory.mktemp("controls")
    package = write_shot(root / "shot", frames=4, width=64, height=48, pose=True)
    with LiveServer(root / "data") as live, ServerClient(live.url) as client:
        yield live, client.upload_package(package).shot, package


def fetch(live: LiveServer, path: str) -> httpx.Response:
    return httpx.get(live.url + path, timeout=60)


@pytest.mark.parametrize("control", ["depth", "normal", "pose", "edges"])
def test_each_control_frame_is_what_a_job_draws(served: tuple[LiveServer, str, Path], control: str) -> None:
    live, shot, folder = served
    package = load_package(folder)
    expected = make_controls(package, package.frame_numbers, ResizePlan.fit(package.size, (48, 32), "letterbox"),
                             [control]).images[control]
    for index, frame in enumerate(package.frame_numbers):
        response = fetch(live, f"/v1/shots/{shot}/controls/{control}/{frame:04d}.png?width=48&height=32&fit=letterbox")
        assert response.status_code == 200 and response.headers["content-type"] == "image/png"
        got = np.asarray(Image.open(io.BytesIO(response.content)).convert("RGB"))
        np.testing.assert_array_equal(got, expected[index])  # the shot-wide depth range, not one frame's


def test_what_cannot_be_drawn_is_a_clear_error(served: tuple[LiveServer, str, Path], tmp_path: Path) -> None:
    live, shot, _ = served
    cases = [
        (f"/v1/shots/{shot}/controls/canny/0001.png", 404, "unknown_control"),
        (f"/v1/shots/{shot}/controls/depth/0099.png", 404, "frame_out_of_range"),
        (f"/v1/shots/{shot}/controls/depth/first.png", 404, "unknown_frame"),
        (f"/v1/shots/{'0' * 64}/controls/depth/0001.png", 400, "missing_blobs"),
        ("/v1/shots/nope/controls/depth/0001.png", 400, "invalid_sha256"),
    ]
    for path, status, code in cases:
        response = fetch(live, path)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code), path
    with ServerClient(live.url) as client:
        plain = client.upload_package(write_shot(tmp_path / "plain", frames=2)).shot
    response = fetch(live, f"/v1/shots/{plain}/controls/pose/0001.png")
    assert response.status_code == 400 and "pose.json" in response.json()["error"]["message"]
