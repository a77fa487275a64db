"""`underpaint stylize` (in-process and through a real server) and `underpaint models` on the tiny set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from live_server import LiveServer
from PIL import Image
from shots import write_shot

from underpaint.cli import main
from underpaint.takes.store import TakeStore

PAINT = ["--model", "tiny", "--width", "32", "--height", "24", "--steps", "2", "--seed", "3"]


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shot(
        tmp_path_factory.mktemp("shot") / "sh010", frames=6, width=64, height=48, color=True, pose=True
    )


def frames_in(folder: Path) -> dict[str, np.ndarray]:
    return {p.name: np.asarray(Image.open(p)) for p in sorted(folder.glob("*.png"))}


def test_stylize_in_process_writes_numbered_frames_and_a_take(
    shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["stylize", str(shot), "--prompt", "a painted fox", *PAINT, "--frames", "2-5"]
    assert main([*args, "--controls", "depth,pose", "--out", str(out), "--data-dir", str(data)]) == 0
    frames = frames_in(out)
    assert list(frames) == ["0002.png", "0003.png", "0004.png", "0005.png"]
    assert all(f.shape == (24, 32, 3) for f in frames.values())
    assert "wrote 4 frames" in capsys.readouterr().out
    (take,) = TakeStore.open(data).list()
    assert take.kind == "stylize" and take.frames == [2, 3, 4, 5] and take.params["model"] == "tiny"
    # The engine's own seconds, beside the painting's: what the service adds is their difference.
    assert 0 < take.metrics["engine_seconds"] < take.metrics["paint_seconds"]
    again = tmp_path / "again"
    assert main([*args, "--controls", "depth,pose", "--out", str(again), "--data-dir", str(data)]) == 0
    for name, image in frames_in(again).items():
        np.testing.assert_array_equal(image, frames[name])


def test_stylize_draft_paints_with_the_draft_and_records_it(shot: Path, tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["stylize", str(shot), "--prompt", "a painted fox", *PAINT, "--frames", "1-2", "--draft"]
    assert main([*args, "--out", str(out), "--data-dir", str(data)]) == 0
    assert list(frames_in(out)) == ["0001.png", "0002.png"]
    (take,) = TakeStore.open(data).list()
    assert take.params["quality"] == "draft" and take.params["steps"] == 2
    assert take.params["schedule"] == {"quality": "draft", "steps": 4, "guidance": 1.0}


def test_stylize_follows_the_edges_control(shot: Path, tmp_path: Path) -> None:
    paintings = {}
    for controls in ("edges", "depth"):
        out = tmp_path / controls
        args = ["stylize", str(shot), "--prompt", "a painted fox", *PAINT, "--frames", "1-2", "--controls", controls]
        assert main([*args, "--out", str(out), "--data-dir", str(tmp_path / "data")]) == 0
        paintings[controls] = frames_in(out)
    assert list(paintings["edges"]) == ["0001.png", "0002.png"]
    assert not np.array_equal(paintings["edges"]["0001.png"], paintings["depth"]["0001.png"])


def test_stylize_through_a_server_paints_the_same_frames(shot: Path, tmp_path: Path) -> None:
    here, there = tmp_path / "here", tmp_path / "there"
    args = ["stylize", str(shot), "--prompt", "a painted fox", *PAINT, "--frames", "1-3", "--use-color"]
    assert main([*args, "--out", str(here), "--data-dir", str(tmp_path / "local")]) == 0
    with LiveServer(tmp_path / "server") as server:
        assert main([*args, "--out", str(there), "--server", server.url]) == 0
    remote, local = frames_in(there), frames_in(here)
    assert list(remote) == ["0001.png", "0002.png", "0003.png"] == list(local)
    for name in local:
        np.testing.assert_array_equal(remote[name], local[name])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--frames", "5-60"], "outside shot"),
        (["--width", "30"], "multiple of 8"),
        (["--model", "no-such-set"], "unknown model set"),
        # In the command line's words: its flags, no API field names, no pydantic prefixes.
        (["--steps", "0"], "--steps must be greater than or equal to 1"),
        (["--style", "x:9"], "--style weight must be less than or equal to 2"),
        (["--strength", "0.3"], "--strength only applies with --use-color"),
    ],
)
def test_stylize_refuses_bad_input_with_a_message(
    shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    args = ["stylize", str(shot), "--prompt", "x", *PAINT, *extra, "--data-dir", str(tmp_path)]
    assert main(args) != 0
    assert message in capsys.readouterr().err


def test_an_unknown_control_is_refused_with_the_known_ones(
    shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["stylize", str(shot), "--prompt", "x", *PAINT, "--controls", "canny", "--data-dir", str(tmp_path)])
    assert exit_.value.code == 2
    assert "controls must be a comma-separated list of depth, normal, pose, edges" in capsys.readouterr().err


def test_models_list_and_pull(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["models", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    assert "sd15  [animatediff]  missing" in listing
    assert "missing  lllyasviel/control_v11p_sd15_openpose" in listing
    assert "tiny  [animatediff]  built on first use" in listing
    assert main(["models", "pull", "tiny", "--data-dir", str(tmp_path)]) == 0
    assert "tiny: ready" in capsys.readouterr().out
    assert main(["models", "list", "--data-dir", str(tmp_path)]) == 0
    assert f"here     {tmp_path.resolve()}/models/tiny/controlnet_pose" in capsys.readouterr().out
    assert main(["models", "pull", "nope", "--data-dir", str(tmp_path)]) == 1
    assert "unknown model set 'nope'" in capsys.readouterr().err


def test_stylize_never_mixes_two_runs_in_one_out_folder(
    shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "data", tmp_path / "out"
    args = ["stylize", str(shot), "--prompt", "a painted fox", *PAINT, "--out", str(out), "--data-dir", str(data)]
    assert main([*args, "--frames", "1-4"]) == 0
    (out / "notes.txt").write_text("the artist's")
    takes_before = len(TakeStore.open(data).list())
    assert main([*args, "--frames", "1-2"]) == 2
    err = capsys.readouterr().err
    assert "already holds 4 frames" in err and "--overwrite" in err
    assert len(TakeStore.open(data).list()) == takes_before  # refused before painting
    assert main([*args, "--frames", "1-2", "--width", "48", "--height", "32", "--overwrite"]) == 0
    frames = frames_in(out)
    assert list(frames) == ["0001.png", "0002.png"] and all(f.shape == (32, 48, 3) for f in frames.values())
    assert (out / "notes.txt").read_text() == "the artist's"  # only frame files are replaced


def test_missing_paths_and_video_to_video_without_colour_say_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["stylize", str(tmp_path / "nope"), "--prompt", "x", "--data-dir", str(tmp_path)]) == 2
    assert f"the shot package {tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    assert main(["styles", "train", str(tmp_path / "nope"), "--name", "x", "--data-dir", str(tmp_path)]) == 2
    assert f"{tmp_path / 'nope'} does not exist" in capsys.readouterr().err
    plain = write_shot(tmp_path / "plain", frames=2)
    assert main(["stylize", str(plain), "--prompt", "x", *PAINT, "--use-color", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "without the colour render" in err and "export it again with the colour render" in err


def test_what_the_api_offers_the_cli_offers_too(shot: Path, tmp_path: Path) -> None:
    """Prompt schedules, control weights and spans, crop or letterbox, reference images: flags, not JSON."""
    reference = tmp_path / "look.png"
    Image.fromarray(np.full((32, 32, 3), (200, 40, 40), np.uint8)).save(reference)
    data = tmp_path / "data"
    args = ["stylize", str(shot), "--prompt", "a fox", "--model", "tiny-vace", "--steps", "1", "--width", "64",
            "--height", "32", "--frames", "1-4", "--prompt-at", "3:a fox in the snow",
            "--controls", "depth:0.5:0-0.5,edges", "--fit", "letterbox", "--reference", str(reference),
            "--out", str(tmp_path / "out"), "--data-dir", str(data)]
    assert main(args) == 0
    (take,) = TakeStore.open(data).list()
    params = take.params
    assert params["prompts"] == [{"frame": 3, "prompt": "a fox in the snow"}]
    assert params["controls"]["depth"] == {"weight": 0.5, "start": 0.0, "end": 0.5}
    assert params["controls"]["edges"] == {"weight": 1.0, "start": 0.0, "end": 1.0}
    assert params["fit"] == "letterbox" and len(params["references"]) == 1
    assert take.control["resize"].startswith("letterbox")
    frames = frames_in(tmp_path / "out")
    assert list(frames) == ["0001.png", "0002.png", "0003.png", "0004.png"]
    # Letterboxed: the 4:3 shot keeps its whole frame in the 2:1 size, bars left and right.
    assert all(f.shape == (32, 64, 3) for f in frames.values())


def test_a_reference_that_is_not_a_png_is_refused_before_painting(
    shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    jpeg = tmp_path / "look.jpg"
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(jpeg)
    args = ["stylize", str(shot), "--prompt", "x", *PAINT, "--reference", str(jpeg), "--data-dir", str(tmp_path)]
    assert main(args) == 2
    assert f"--reference {jpeg} is not a PNG image" in capsys.readouterr().err


def test_models_list_says_what_an_artist_needs_to_choose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["models", "list", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out
    sd15 = listing[listing.index("sd15  [animatediff]"):listing.index("tiny  [animatediff]")]
    assert "download about 13 GB, needs about 10 GB of GPU memory" in sd15 and "speed: fast" in sd15
    assert "use for: tests and CI only" in listing
    (tmp_path / "models.toml").write_text('[mine]\nengine = "animatediff"\nbase = "a/b"\nvram_gb = "lots"\n')
    assert main(["models", "list", "--data-dir", str(tmp_path)]) == 1
    assert "model set 'mine': vram_gb = 'lots': must be a number of gigabytes" in capsys.readouterr().err
