"""The `train_style` job kind and `GET /v1/styles` through a real `underpaint serve` process."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import httpx
import numpy as np
import pytest
from live_server import LiveServer
from PIL import Image
from shots import write_shot
from test_styles import RESOLUTION, write_concept_art

from underpaint.client import ServerClient, ServerError

FAST = {"model": "tiny", "resolution": RESOLUTION, "rank": 4, "learning_rate": 1e-2, "validation_steps": 1}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with LiveServer(tmp_path_factory.mktemp("server") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def files(client: ServerClient, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The concept art uploaded as blobs, as the add-on sends it: relative name -> sha256."""
    folder = write_concept_art(tmp_path_factory.mktemp("art"), count=4)
    return {p.name: client.upload_blob(p.read_bytes()) for p in sorted(folder.iterdir())}


def upload_png(client: ServerClient, width: int, height: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (200, 90, 30)).save(buffer, format="PNG")
    return client.upload_blob(buffer.getvalue())


def test_a_style_trains_as_a_job_and_is_listed(server: LiveServer, client: ServerClient, files: dict) -> None:
    job_id = client.submit("train_style", None, {"name": "ink", "files": files, "steps": 6, "trigger": "inky", **FAST})
    events = list(client.events(job_id))
    final = events[-1]
    assert final["state"] == "done" and final["error"] is None and final["progress"] == 1.0
    assert final["kind"] == "train_style" and final["take"] is None
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress)
    assert any(e["message"].startswith("training: step") for e in events)

    styles = httpx.get(f"{server.url}/v1/styles").json()["styles"]
    assert [s["name"] for s in styles] == ["ink"]
    ink = styles[0]
    assert ink["base_model"] == "tiny" and ink["trigger"] == "inky" and ink["steps"] == 6
    assert ink["images"] == 4 and ink["held_out"] == 1
    assert ink["created"] and "loss_curve" not in ink
    card = httpx.get(f"{server.url}/v1/styles/ink").json()
    assert len(card["loss_curve"]) == 6 and {i["file"] for i in card["images"]} == set(files) - {"art1.txt"}
    assert (server.data_dir / "styles" / "ink" / "lora.safetensors").is_file()
    missing = httpx.get(f"{server.url}/v1/styles/nope")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "unknown_style"


def test_a_stylize_job_paints_with_the_style(server: LiveServer, client: ServerClient, tmp_path: Path) -> None:
    shot = client.upload_package(write_shot(tmp_path / "shot", frames=2, width=64, height=48))
    params = {"prompt": "inky tower", "model": "tiny", "steps": 2, "width": 64, "height": 48}
    with pytest.raises(ServerError) as caught:
        client.submit("stylize", shot.shot, {**params, "styles": [{"name": "unknown", "weight": 1.0}]})
    assert caught.value.status == 400 and caught.value.code == "unknown_style"
    final = client.wait(client.submit("stylize", shot.shot, {**params, "styles": [{"name": "ink", "weight": 0.8}]}))
    assert final["state"] == "done", final
    take = client.take(final["take"])
    assert take["params"]["styles"] == [{"name": "ink", "weight": 0.8}]
    assert np.asarray(Image.open(io.BytesIO(client.frame(take["id"], take["frames"][0])))).shape == (48, 64, 3)


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"files": {}}, 400, "no_images"),
        ({"files": "notes"}, 400, "not_an_image"),
        ({"files": "small"}, 400, "image_too_small"),
        ({"name": "ink"}, 409, "style_exists"),
        ({"files": {"a.png": hashlib.sha256(b"never uploaded").hexdigest()}}, 404, "unknown_blob"),
        ({"files": {"../a.png": "0" * 64}}, 400, "invalid_file_name"),
        ({"files": {"a.png": "not-a-sha"}}, 400, "invalid_sha256"),
        ({"model": "tiny-vace"}, 400, "model_not_trainable"),
        ({"learning_rate": 5.0}, 400, "invalid_params"),
        ({"epochs": 3}, 422, "invalid_params"),
    ],
)
def test_bad_train_requests_are_refused_at_submit(
    server: LiveServer, client: ServerClient, files: dict, params: dict, status: int, code: str
) -> None:
    if params.get("files") == "notes":
        params = {"files": {**files, "notes.pdf": client.upload_blob(b"%PDF-1.4")}}
    if params.get("files") == "small":
        params = {"files": {**files, "thumb.png": upload_png(client, 48, 30)}}
    with pytest.raises(ServerError) as caught:
        client.submit("train_style", None, {**FAST, "name": "refused", "files": files, "steps": 2, **params})
    assert (caught.value.status, caught.value.code) == (status, code), caught.value.message
    assert not (server.data_dir / "styles" / "refused").exists()


def test_cancel_over_http_leaves_no_style(server: LiveServer, client: ServerClient, files: dict) -> None:
    job_id = client.submit("train_style", None, {"name": "stopped", "files": files, "steps": 5000, **FAST})
    last = None
    for event in client.events(job_id):
        last = event
        if event["state"] == "running" and event["message"].startswith("training: step"):
            client.cancel(job_id)
    assert last is not None and last["state"] == "cancelled"
    assert "stopped" not in [s["name"] for s in httpx.get(f"{server.url}/v1/styles").json()["styles"]]
    leftovers = [p.name for p in (server.data_dir / "styles").iterdir()]
    assert leftovers == ["ink"]
