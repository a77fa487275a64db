"""Temporal QC: the warp error along the shot's motion vectors, its masks, worst ranges and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import DataDirFactory
from PIL import Image
from shots import OBJECTS, ball_step, write_shot

from underpaint.blobs import BlobStore
from underpaint.cli import main
from underpaint.engines.pool import EngineCache
from underpaint.errors import InputError
from underpaint.images import encode_png
from underpaint.jobs.kinds.rerender import RerenderParams, rerender_region
from underpaint.paint.context import PaintServices
from underpaint.paint.edit import plan_edit, run_edit
from underpaint.paint.stylize import StylizeParams, run_stylize
from underpaint.qc.report import measure
from underpaint.qc.warp import pair_error, valid_pixels
from underpaint.shot.package import load_package
from underpaint.takes.store import TakeStore

FRAMES, WIDTH, HEIGHT = 8, 96, 64
# The rough colour render followed along its own motion changes only where pixels are resampled.
FLOOR_BOUND = 2.0


@pytest.fixture(scope="module")
def shot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_shot(tmp_path_factory.mktemp("qc") / "shot", frames=FRAMES, width=WIDTH, height=HEIGHT,
                      color=True, motion=True)


def colour_frames(shot: Path) -> dict[int, np.ndarray]:
    package = load_package(shot)
    return {n: package.read_color(n) for n in package.frame_numbers}


def write_frames(folder: Path, frames: dict[int, np.ndarray]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for number, rgb in frames.items():
        (folder / f"{number:04d}.png").write_bytes(encode_png(rgb))
    return folder


def test_the_shots_own_render_scores_near_zero_and_jitter_scores_high(shot: Path, tmp_path: Path) -> None:
    frames = colour_frames(shot)
    clean = measure(load_package(shot), write_frames(tmp_path / "clean", frames))
    assert clean.median < FLOOR_BOUND and clean.p95 < FLOOR_BOUND
    assert clean.floor_median is not None and clean.floor_median < FLOOR_BOUND
    jittered = {n: np.clip(rgb.astype(np.int16) + (20 if n % 2 else -20), 0, 255).astype(np.uint8)
                for n, rgb in frames.items()}
    flicker = measure(load_package(shot), write_frames(tmp_path / "jitter", jittered))
    assert flicker.median > 10 * max(clean.median, 0.5) and flicker.median > 25


def test_a_single_shifted_frame_is_the_worst_range(shot: Path, tmp_path: Path) -> None:
    frames = colour_frames(shot)
    frames[4] = np.roll(frames[4], 6, axis=0)
    report = measure(load_package(shot), write_frames(tmp_path / "shifted", frames))
    assert report.worst[0] == (3, 5), report.to_json()
    bad = {p.first for p in report.pairs if p.error > report.threshold}
    assert bad == {3, 4}


def test_occluded_and_uncovered_pixels_are_left_out(shot: Path) -> None:
    package = load_package(shot)
    before, after = package.read_passes(3), package.read_passes(4)
    assert after.object_index is not None and before.object_index is not None
    _, _, valid = valid_pixels(before.motion, after.motion)
    ball_now = before.object_index == OBJECTS["Ball"]
    ball_next = after.object_index == OBJECTS["Ball"]
    covered = ~ball_now & ball_next  # wall in frame 3 that the ball hides in frame 4
    assert covered.any() and not valid[covered].any()
    assert valid[ball_now].mean() > 0.9, "the ball itself is followed"
    # Garbage where the ball uncovers the wall in frame 4 changes nothing: those pixels are never compared.
    colour = {n: package.read_color(n) for n in (3, 4)}
    uncovered = ball_now & ~ball_next
    noisy = colour[4].copy()
    noisy[uncovered] = np.random.default_rng(0).integers(0, 256, (int(uncovered.sum()), 3), dtype=np.uint8)
    clean = pair_error(colour[3], colour[4], before.motion, after.motion)
    garbage = pair_error(colour[3], noisy, before.motion, after.motion)
    assert uncovered.sum() > 3 * HEIGHT / 8
    assert abs(garbage.error - clean.error) < 0.5


def test_the_cli_writes_json_plot_and_heatmaps(shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    frames = colour_frames(shot)
    frames[6] = np.clip(frames[6].astype(np.int16) + 60, 0, 255).astype(np.uint8)
    folder = write_frames(tmp_path / "take", frames)
    out = tmp_path / "qc"
    assert main(["qc", str(shot), str(folder), "--json", str(out / "qc.json"), "--plot", str(out / "qc.png"),
                 "--heatmaps", str(out / "heat")]) == 0
    printed = capsys.readouterr().out
    assert "worst: frames 5-7" in printed and "re-render with --frames 5-7" in printed
    report = json.loads((out / "qc.json").read_text())
    assert len(report["pairs"]) == FRAMES - 1 and report["worst_ranges"][0] == [5, 7]
    assert report["floor"]["median"] < FLOOR_BOUND
    with Image.open(out / "qc.png") as plot:
        assert plot.size == (900, 320)
    heat = sorted(p.name for p in (out / "heat").iterdir())
    assert heat[0] == "0001-0002.png" and len(heat) == FRAMES - 1
    assert main(["qc", str(shot), str(folder), "--frames", "2-4"]) == 0
    assert "2 frame pairs" in capsys.readouterr().out


def test_bad_input_is_named(shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    frames = colour_frames(shot)
    partial = write_frames(tmp_path / "partial", {n: f for n, f in frames.items() if n != 5})
    with pytest.raises(InputError, match="lacks 1 of the shot's frames: 0005.png"):
        measure(load_package(shot), partial)
    square = write_frames(tmp_path / "square", {n: np.zeros((50, 50, 3), np.uint8) for n in frames})
    with pytest.raises(InputError, match="0001.png is 50x50 but the shot is 96x64"):
        measure(load_package(shot), square)
    still = write_shot(tmp_path / "still", frames=3, width=16, height=8)
    assert main(["qc", str(still), str(partial)]) == 2
    err = capsys.readouterr().err
    assert "has no motion vectors" in err and "re-export it with motion vectors" in err
    assert main(["qc", str(shot), str(tmp_path / "nowhere")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_frames_at_another_scale_follow_the_scaled_motion(shot: Path, tmp_path: Path) -> None:
    half = {n: np.asarray(Image.fromarray(f).resize((WIDTH // 2, HEIGHT // 2), Image.NEAREST))
            for n, f in colour_frames(shot).items()}
    report = measure(load_package(shot), write_frames(tmp_path / "half", half))
    assert report.median < FLOOR_BOUND * 2
    assert ball_step(FRAMES, WIDTH) > 4, "the ball moves far enough that unscaled vectors would miss it"


def test_an_even_take_reports_no_worst_range(shot: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    folder = write_frames(tmp_path / "even", colour_frames(shot))
    assert main(["qc", str(shot), str(folder)]) == 0
    assert "no frame pair stands out" in capsys.readouterr().out


def test_every_take_records_its_flicker_and_an_edit_rescores_only_what_it_changed(
    shot: Path, data_dirs: DataDirFactory
) -> None:
    data_dir = data_dirs("takes")
    package = load_package(shot)
    takes = TakeStore.open(data_dir)
    engines = EngineCache(data_dir, "cpu")
    services = PaintServices(data_dir=data_dir, blobs=BlobStore(data_dir / "blobs"), takes=takes)
    params = StylizeParams(prompt="a painted ball", model="tiny", steps=2, width=48, height=32, seed=1)
    parent = takes.get(run_stylize(package, params, takes=takes, engines=engines.get))
    temporal = parent.metrics["temporal"]
    assert [p["frames"] for p in temporal["pairs"]] == [[n, n + 1] for n in range(1, FRAMES)]
    assert temporal["floor"]["median"] is not None and temporal["median"] > 0
    # The recorded figures are `underpaint qc`'s over the take's frames as delivered.
    frames_dir = write_frames(shot.parent / "parent", {n: takes.read_frame(parent.id, n) for n in parent.frames})
    assert measure(package, frames_dir).to_json()["pairs"] == temporal["pairs"]

    edit = RerenderParams(parent_take=parent.id, frames=(4, 5), context=1)
    plan = plan_edit(package, edit, rerender_region, services)
    child = takes.get(run_edit(package, plan, "rerender", takes=takes, engines=engines.get))
    rescored = child.metrics["temporal"]["pairs"]
    untouched = [i for i, p in enumerate(temporal["pairs"]) if not {4, 5} & set(p["frames"])]
    assert [rescored[i] for i in untouched] == [temporal["pairs"][i] for i in untouched]
    frames_dir = write_frames(shot.parent / "child", {n: takes.read_frame(child.id, n) for n in child.frames})
    assert measure(package, frames_dir).to_json()["pairs"] == rescored
