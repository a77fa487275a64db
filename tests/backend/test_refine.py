"""`refine` through the real server and the tiny AnimateDiff engine: only the mask changes."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import DataDirFactory
from edit_server import HEIGHT, WIDTH, frame_files, paint_params, pixels, run_job, tiny_server
from PIL import Image
from shots import write_shot

from underpaint.client import ServerClient, ServerError
from underpaint.control import ResizePlan, object_masks
from underpaint.shot.package import load_package

FRAMES = 16


@pytest.fixture(scope="module")
def client(data_dirs: DataDirFactory):
    with tiny_server(data_dirs("refine")) as c:
        yield c


@pytest.fixture(scope="module")
def shot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shot(tmp_path_factory.mktemp("shot") / "shot", frames=FRAMES, width=64, height=48)


@pytest.fixture(scope="module")
def shot(client: ServerClient, shot_dir: Path) -> str:
    return client.upload_package(shot_dir).shot


@pytest.fixture(scope="module")
def parent(client: ServerClient, shot: str) -> dict:
    return run_job(client, "stylize", shot, paint_params())


def object_mask(shot_dir: Path, frame: int, name: str) -> np.ndarray:
    """Where object `name` covers any part of a pixel of the take (32x24 from the 64x48 shot)."""
    plan = ResizePlan.fit((64, 48), (WIDTH, HEIGHT))
    return object_masks(load_package(shot_dir), [frame], plan, [name])[0] > 0


def within(mask: np.ndarray, pixels_: float) -> np.ndarray:
    """Pixels at most `pixels_` (Euclidean) from `mask`."""
    return cv2.distanceTransform((~mask).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE) <= pixels_


def changed(a: bytes, b: bytes) -> np.ndarray:
    return (pixels(a) != pixels(b)).any(axis=-1)


def mean_difference(a: bytes, b: bytes, where: np.ndarray) -> float:
    return float(np.abs(pixels(a) - pixels(b))[where].mean())


def upload_mask(client: ServerClient, mask: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(mask.astype(np.uint8) * 255, "L").save(buffer, format="PNG")
    return client.upload_blob(buffer.getvalue())


def test_refine_repaints_only_inside_the_dilated_object_mask(
    client: ServerClient, shot: str, shot_dir: Path, parent: dict
) -> None:
    take = run_job(client, "refine", shot, {"parent_take": parent["id"], "frames": [5, 8],
                                            "mask": {"objects": ["Ball"], "dilate": 2, "feather": 1}})
    assert take["kind"] == "refine" and take["parent"] == parent["id"]
    params = take["params"]
    assert params["mask"]["objects"] == ["Ball"] and params["masked_frames"] == [5, 6, 7, 8]
    assert params["span"] == [3, 10]

    parent_files, files = frame_files(client, parent), frame_files(client, take)
    for frame in range(1, FRAMES + 1):
        if not 5 <= frame <= 8:
            assert files[frame] == parent_files[frame], f"frame {frame} outside the refined frames changed"
            continue
        ball = object_mask(shot_dir, frame, "Ball")
        moved = changed(files[frame], parent_files[frame])
        assert not (moved & ~within(ball, 2)).any(), f"frame {frame}: a pixel outside the dilated mask changed"
        assert mean_difference(files[frame], parent_files[frame], ball) > 1.0, f"frame {frame}: ball not repainted"

    edge = take["metrics"]["seams"]["mask_edge"]
    assert edge["take"] >= 0 and edge["parent"] >= 0


def test_painted_masks_and_object_masks_are_unioned(
    client: ServerClient, shot: str, shot_dir: Path, parent: dict
) -> None:
    painted = np.zeros((48, 64), bool)
    painted[2:14, 2:22] = True  # at the shot's resolution: the take's [1:7, 1:11]
    sha = upload_mask(client, painted)
    take = run_job(client, "refine", shot, {"parent_take": parent["id"], "frames": [12, 12], "seed": 3,
                                            "mask": {"objects": ["Box"], "frames": {"12": sha}, "feather": 0}})
    parent_files, files = frame_files(client, parent), frame_files(client, take)
    assert [f for f in files if files[f] != parent_files[f]] == [12]
    box = object_mask(shot_dir, 12, "Box")
    rectangle = np.zeros((HEIGHT, WIDTH), bool)
    rectangle[1:7, 1:11] = True
    moved = changed(files[12], parent_files[12])
    assert not (moved & ~(box | rectangle)).any()
    for region in (box, rectangle):
        assert mean_difference(files[12], parent_files[12], region) > 1.0


def test_bad_masks_are_refused_at_submit(client: ServerClient, shot: str, parent: dict) -> None:
    black = upload_mask(client, np.zeros((HEIGHT, WIDTH), bool))
    tiny = upload_mask(client, np.ones((10, 10), bool))
    jobs_before = len(client.http.get("/v1/jobs").json()["jobs"])
    cases = [
        ({"frames": {"3": black}}, 400, "empty_mask", "empty"),
        ({"objects": ["Ball", "Lamp", "Tree"]}, 400, "unknown_object", "'Lamp', 'Tree'"),
        ({}, 422, "invalid_params", "mask"),
        ({"frames": {"3": "0" * 64}}, 404, "unknown_blob", "0" * 64),
        ({"frames": {"3": tiny}}, 400, "resolution_mismatch", "10x10"),
        ({"frames": {"99": black}}, 400, "frame_out_of_range", "99"),
        ({"objects": ["Ball"], "dilate": -1}, 422, "invalid_params", "dilate"),
    ]
    for mask, status, code, words in cases:
        with pytest.raises(ServerError) as caught:
            client.submit("refine", shot, {"parent_take": parent["id"], "mask": mask})
        assert (caught.value.status, caught.value.code) == (status, code), caught.value.message
        assert words in caught.value.message
    assert len(client.http.get("/v1/jobs").json()["jobs"]) == jobs_before, "nothing was queued"


def test_chained_edits_keep_lineage_and_identity_outside_each_edit(
    client: ServerClient, shot: str, shot_dir: Path, parent: dict
) -> None:
    refined = run_job(client, "refine", shot, {"parent_take": parent["id"], "frames": [2, 4],
                                               "mask": {"objects": ["Box"], "dilate": 1}})
    again = run_job(client, "rerender", shot, {"parent_take": refined["id"], "frames": [12, 13]})
    assert (again["parent"], refined["parent"]) == (refined["id"], parent["id"])
    assert again["params"]["seed"] == refined["params"]["seed"] + 1 == parent["params"]["seed"] + 2

    original, first, second = (frame_files(client, t) for t in (parent, refined, again))
    for frame in range(1, FRAMES + 1):
        if 12 <= frame <= 13:
            assert second[frame] != first[frame]
        else:
            assert second[frame] == first[frame], f"the rerender changed frame {frame}"
        if 2 <= frame <= 4:
            box = object_mask(shot_dir, frame, "Box")
            assert not (changed(first[frame], original[frame]) & ~within(box, 1)).any()
        elif not 12 <= frame <= 13:
            assert second[frame] == original[frame], f"frame {frame} is no longer the original's file"
    lineage = {t["id"]: t["parent"] for t in client.takes("sh010")}
    assert lineage[again["id"]] == refined["id"] and lineage[refined["id"]] == parent["id"]
