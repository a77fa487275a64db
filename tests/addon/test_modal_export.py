"""The one modal exporter (ui/modal_export.py) that Export Shot and Stylize / Re-render / Refine share.

The `bpy` module has no window to run a modal operator in, so these tests play the events the
exporter's timer would send: one frame per TIMER event, Esc or the panel's Cancel stops it, and
whatever ends it leaves the artist's scene as it was.
"""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import bpy
import pytest

from demo import blocking

TIMER = SimpleNamespace(type="TIMER", value="NOTHING")
ESC = SimpleNamespace(type="ESC", value="PRESS")
MOUSE = SimpleNamespace(type="MOUSEMOVE", value="NOTHING")


@pytest.fixture(scope="module")
def scene(addon: str) -> bpy.types.Scene:
    return blocking.build_demo_scene("Modal Export", resolution=(32, 32), frames=(1, 3))


@pytest.fixture(scope="module")
def modal_export(addon: str) -> ModuleType:
    return sys.modules[f"{addon}.ui.modal_export"]


@pytest.fixture()
def context() -> SimpleNamespace:
    return SimpleNamespace(window_manager=bpy.context.window_manager, workspace=None)


def exporter(addon: str, modal_export: ModuleType, scene: bpy.types.Scene, folder: Path,
             seen: list[tuple[int, int]]) -> Any:
    passes = sys.modules[f"{addon}.passes"]
    steps = passes.iter_export(scene, folder, 1, 3, passes.ExportOptions(motion=False))
    return modal_export.ModalExport(scene.name, steps, 3, lambda done, total: seen.append((done, total)))


def test_one_frame_per_timer_event_to_the_end(
    addon: str, modal_export: ModuleType, scene: bpy.types.Scene, context: SimpleNamespace, tmp_path: Path
) -> None:
    job_timer = sys.modules[f"{addon}.job_timer"]
    seen: list[tuple[int, int]] = []
    export = exporter(addon, modal_export, scene, tmp_path, seen)
    assert job_timer.busy(scene.name)  # no Stylize may start over a running export
    assert export.handle(context, MOUSE).outcome == "ignored" and seen == []
    outcomes = [export.handle(context, TIMER) for _ in range(4)]
    assert [o.outcome for o in outcomes] == ["running", "running", "running", "done"]
    assert seen == [(1, 3), (2, 3), (3, 3)]
    assert outcomes[-1].shot_json == tmp_path / "shot.json" and outcomes[-1].shot_json.is_file()
    assert not job_timer.busy(scene.name)


@pytest.mark.parametrize("how", ["esc", "cancel_job"])
def test_esc_or_cancel_stops_the_export_and_restores_the_scene(
    addon: str, modal_export: ModuleType, scene: bpy.types.Scene, context: SimpleNamespace, tmp_path: Path,
    how: str,
) -> None:
    job_timer = sys.modules[f"{addon}.job_timer"]
    render = (scene.render.engine, scene.render.resolution_x, scene.frame_current, len(bpy.data.scenes))
    export = exporter(addon, modal_export, scene, tmp_path, [])
    assert export.handle(context, TIMER).outcome == "running"
    if how == "esc":
        step = export.handle(context, ESC)
    else:
        with bpy.context.temp_override(scene=scene):
            assert bpy.ops.underpaint.cancel_job() == {"FINISHED"}
        step = export.handle(context, TIMER)
    assert step.outcome == "cancelled" and "incomplete" in step.message
    assert not (tmp_path / "shot.json").exists() and not job_timer.busy(scene.name)
    assert (scene.render.engine, scene.render.resolution_x, scene.frame_current, len(bpy.data.scenes)) == render
