"""`rerender` through the real server and the tiny AnimateDiff engine: only the range changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from conftest import DataDirFactory
from edit_server import OVERLAP, STEPS, WINDOW, frame_files, paint_params, pixels, run_job, tiny_server
from shots import write_shot

from underpaint.client import ServerClient, ServerError
from underpaint.engines.animatediff.windows import plan_windows

FRAMES = 40


@pytest.fixture(scope="module")
def client(data_dirs: DataDirFactory):
    with tiny_server(data_dirs("rerender")) as c:
        yield c


@pytest.fixture(scope="module")
def shot(client: ServerClient, tmp_path_factory: pytest.TempPathFactory) -> str:
    directory = write_shot(tmp_path_factory.mktemp("shot") / "shot", frames=FRAMES, width=64, height=48)
    return client.upload_package(directory).shot


@pytest.fixture(scope="module")
def parent(client: ServerClient, shot: str) -> dict:
    return run_job(client, "stylize", shot, paint_params())


def digest(files: dict[int, bytes]) -> dict[int, str]:
    return {frame: hashlib.sha256(data).hexdigest() for frame, data in files.items()}


def test_a_draft_take_is_marked_and_a_range_of_it_re_renders_in_final_quality(
    client: ServerClient, shot: str, parent: dict
) -> None:
    tiny = next(m for m in client.health()["models"] if m["name"] == "tiny")
    assert tiny["capabilities"]["draft"] and tiny["draft"] == {"steps": 4, "guidance": 1.0}
    draft = run_job(client, "stylize", shot, paint_params(quality="draft", guidance=6.0))
    assert draft["params"]["quality"] == "draft" and draft["frames"] == list(range(1, FRAMES + 1))
    # The artist's schedule is kept for the final; the one that ran is the draft's.
    assert (draft["params"]["steps"], draft["params"]["guidance"]) == (STEPS, 6.0)
    assert draft["params"]["schedule"] == {"quality": "draft", "steps": 4, "guidance": 1.0}
    assert draft["work_units"] == parent["work_units"] * 4 // STEPS
    assert frame_files(client, draft) != frame_files(client, parent)

    final = run_job(client, "rerender", shot, {"parent_take": draft["id"], "frames": [10, 14], "quality": "final"})
    assert final["params"]["quality"] == "final"
    assert final["params"]["schedule"] == {"quality": "final", "steps": STEPS, "guidance": 6.0}
    draft_files, files = frame_files(client, draft), frame_files(client, final)
    assert all(files[f] == draft_files[f] for f in range(1, FRAMES + 1) if not 10 <= f <= 14)
    assert all(files[f] != draft_files[f] for f in range(10, 15))
    # Unless told otherwise an edit of a draft is a draft too.
    again = run_job(client, "rerender", shot, {"parent_take": draft["id"], "frames": [3, 4]})
    assert again["params"]["schedule"]["quality"] == "draft"


def test_rerender_repaints_only_the_range_at_the_cost_of_the_range(
    client: ServerClient, shot: str, parent: dict
) -> None:
    before = digest(frame_files(client, parent))
    take = run_job(client, "rerender", shot, {"parent_take": parent["id"], "frames": [10, 14]})

    assert take["kind"] == "rerender" and take["parent"] == parent["id"] and take["state"] == "done"
    assert take["frames"] == list(range(1, FRAMES + 1))
    assert take["params"]["frames"] == [10, 14] and take["params"]["parent_take"] == parent["id"]
    assert take["params"]["context"] == OVERLAP and take["params"]["span"] == [10 - OVERLAP, 14 + OVERLAP]
    assert take["params"]["seed"] == parent["params"]["seed"] + 1, "a re-render is a new attempt"

    parent_files, files = frame_files(client, parent), frame_files(client, take)
    for frame in range(1, FRAMES + 1):
        if 10 <= frame <= 14:
            difference = np.abs(pixels(files[frame]) - pixels(parent_files[frame])).mean()
            assert difference > 1.0, f"frame {frame} was not repainted"
        else:
            assert files[frame] == parent_files[frame], f"frame {frame} outside the range changed"

    # The work is the span's (range + context on both sides), not the shot's.
    span = 5 + 2 * OVERLAP
    assert take["work_units"] == STEPS * sum(w.length for w in plan_windows(span, WINDOW, OVERLAP))
    assert take["work_units"] < parent["work_units"] / 3

    seams = take["metrics"]["seams"]
    assert seams["frames"] == [10, 14]
    for figures in (seams["range"], seams["parent_range"]):
        assert figures["before"] >= 0 and figures["after"] >= 0 and figures["inside_median"] >= 0
        assert figures["jump"] == max(figures["before"], figures["after"]) / figures["inside_median"]

    assert digest(frame_files(client, parent)) == before and client.take(parent["id"]) == parent, \
        "the parent never changes"


def test_rerender_with_new_params_keeps_the_rest_of_the_parents(
    client: ServerClient, shot: str, parent: dict
) -> None:
    take = run_job(client, "rerender", shot, {"parent_take": parent["id"], "frames": [1, 2], "prompt": "ink",
                                              "seed": 99, "context": 1})
    params = take["params"]
    assert (params["prompt"], params["seed"], params["context"], params["span"]) == ("ink", 99, 1, [1, 3])
    assert (params["steps"], params["model"], params["width"]) == (STEPS, "tiny", parent["width"])
    assert take["work_units"] == STEPS * 3
    assert take["metrics"]["seams"]["range"]["before"] is None, "the range starts the take"


@pytest.mark.parametrize(
    ("params", "status", "code", "words"),
    [
        ({"frames": [35, 41]}, 400, "frame_out_of_range", "outside take"),
        ({"frames": [14, 10]}, 422, "invalid_params", "before the first"),
        ({"frames": [10, 14], "width": 64}, 422, "invalid_params", "width"),
        ({"frames": [10, 14], "steps": 0}, 422, "invalid_params", "steps"),
        ({"frames": [10, 14], "model": "no-such-set"}, 400, "unknown_model", "no-such-set"),
        ({}, 422, "invalid_params", "frames"),
    ],
)
def test_bad_rerenders_are_refused_at_submit(
    client: ServerClient, shot: str, parent: dict, params: dict, status: int, code: str, words: str
) -> None:
    with pytest.raises(ServerError) as caught:
        client.submit("rerender", shot, {"parent_take": parent["id"], **params})
    assert (caught.value.status, caught.value.code) == (status, code)
    assert words in caught.value.message


def test_only_a_finished_take_of_the_same_shot_is_edited(
    client: ServerClient, shot: str, parent: dict, tmp_path: Path
) -> None:
    with pytest.raises(ServerError) as caught:
        client.submit("rerender", shot, {"parent_take": "sh010-999", "frames": [1, 2]})
    assert (caught.value.status, caught.value.code) == (404, "unknown_take")
    other = client.upload_package(write_shot(tmp_path / "other", frames=FRAMES, width=64, height=48, name="sh020"))
    with pytest.raises(ServerError) as caught:
        client.submit("rerender", other.shot, {"parent_take": parent["id"], "frames": [1, 2]})
    assert caught.value.code == "wrong_shot" and "sh020" in caught.value.message
