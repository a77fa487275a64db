"""What the tiny Wan VACE set offers beyond the other engines, through the real server: reference images (the
look to carry, besides a LoRA) and the opt-in step cache."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import DataDirFactory
from edit_server import frame_files, paint_params, pixels, run_job, tiny_server
from PIL import Image
from shots import write_shot

from underpaint.client import ServerClient, ServerError

FRAMES = 5


@pytest.fixture(scope="module")
def client(data_dirs: DataDirFactory):
    with tiny_server(data_dirs("references")) as c:
        yield c


@pytest.fixture(scope="module")
def shot(client: ServerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = write_shot(tmp_path_factory.mktemp("shot") / "shot", frames=FRAMES, width=64, height=48)
    return client.upload_package(directory).shot


def png(rgb: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, format="PNG")
    return out.getvalue()


def test_reference_images_change_the_painting(client: ServerClient, shot: str) -> None:
    concept_art = np.zeros((40, 40, 3), np.uint8)
    concept_art[:, :20] = (230, 40, 30)
    reference = client.upload_blob(png(concept_art))
    params = paint_params(model="tiny-vace")
    plain = run_job(client, "stylize", shot, params)
    styled = run_job(client, "stylize", shot, {**params, "references": [reference]})

    assert styled["params"]["references"] == [reference]
    assert styled["frames"] == plain["frames"] == list(range(1, FRAMES + 1))
    plain_files, styled_files = frame_files(client, plain), frame_files(client, styled)
    difference = np.mean([np.abs(pixels(styled_files[f]) - pixels(plain_files[f])).mean() for f in plain["frames"]])
    # Every frame's noise is the same with or without references (it is drawn per frame), so any change is
    # the reference reaching the model; a random tiny model only lets it move the pixels a little.
    assert difference > 0


def test_bad_references_are_refused_at_submit(client: ServerClient, shot: str) -> None:
    missing = "0" * 64
    with pytest.raises(ServerError) as unknown:
        client.submit("stylize", shot, paint_params(model="tiny-vace", references=[missing]))
    assert unknown.value.code == "unknown_blob"
    not_an_image = client.upload_blob(b"concept art, but text")
    with pytest.raises(ServerError) as corrupt:
        client.submit("stylize", shot, paint_params(model="tiny-vace", references=[not_an_image]))
    assert corrupt.value.code == "corrupt_file" and "reference image" in corrupt.value.message


def test_an_engine_without_reference_images_says_so(client: ServerClient, shot: str) -> None:
    reference = client.upload_blob(png(np.full((16, 16, 3), 128, np.uint8)))
    with pytest.raises(ServerError) as refused:
        client.submit("stylize", shot, paint_params(model="tiny", references=[reference]))
    assert refused.value.code == "unsupported_references" and "takes no reference images" in refused.value.message


def test_the_step_cache_is_offered_by_health_and_recorded_with_the_take(client: ServerClient, shot: str) -> None:
    models = {m["name"]: m for m in client.health()["models"]}
    assert models["tiny-vace"]["capabilities"]["cache"] and not models["tiny"]["capabilities"]["cache"]
    params = paint_params(model="tiny-vace", steps=6)
    cached = run_job(client, "stylize", shot, {**params, "cache": True})
    assert cached["params"]["cache"] is True and cached["frames"] == list(range(1, FRAMES + 1))
    with pytest.raises(ServerError) as refused:
        client.submit("stylize", shot, paint_params(model="tiny", cache=True))
    assert refused.value.code == "unsupported_cache" and "no step cache" in refused.value.message
