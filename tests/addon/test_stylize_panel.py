"""The sidebar panels and the status bar draw without a window.

The `bpy` module has no screen to draw into, so each panel's `draw` runs against a layout
that records what it is asked to show; every property it names must exist on its data and
every operator must be registered, so a typo fails here instead of in the artist's sidebar.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import bpy
import pytest


class RecordingLayout:
    """Stands in for `bpy.types.UILayout`: sub-layouts share one record of what was drawn."""

    def __init__(self, record: list[tuple[str, Any]] | None = None) -> None:
        self.record = [] if record is None else record
        self.active = self.enabled = True
        self.scale_y = 1.0

    def _sub(self, *_args: Any, **_kwargs: Any) -> RecordingLayout:
        return RecordingLayout(self.record)

    row = column = box = split = _sub

    def prop(self, data: Any, name: str, **_kwargs: Any) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.record.append(("prop", name))

    def label(self, text: str = "", **_kwargs: Any) -> None:
        self.record.append(("label", text))

    def operator(self, idname: str, **_kwargs: Any) -> SimpleNamespace:
        module, name = idname.split(".")
        assert f"{module.upper()}_OT_{name}" in dir(bpy.types), f"operator {idname} is not registered"
        self.record.append(("operator", idname))
        return SimpleNamespace()

    def progress(self, factor: float = 0.0, type: str = "BAR", text: str = "") -> None:
        assert 0.0 <= factor <= 1.0 and type in ("BAR", "RING")
        self.record.append(("progress", text))

    def template_list(self, list_type: str, _list_id: str, data: Any, prop: str, active_data: Any,
                      active_prop: str, **_kwargs: Any) -> None:
        assert list_type in dir(bpy.types)
        assert prop in data.bl_rna.properties and active_prop in active_data.bl_rna.properties
        self.record.append(("list", prop))


def draw(panel_type: type, context: Any) -> list[tuple[str, Any]]:
    layout = RecordingLayout()
    panel_type.draw(SimpleNamespace(layout=layout), context)
    return layout.record


@pytest.fixture()
def context(addon: str) -> SimpleNamespace:
    scene = bpy.context.scene
    return SimpleNamespace(scene=scene, region=None, window_manager=bpy.context.window_manager)


def test_main_panel_names_real_properties_and_operators(
    addon: str, context: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = sys.modules[f"{addon}.jobs"].STATUS
    monkeypatch.setattr(status, "state", "not_running")
    monkeypatch.setattr(status, "message", "The Underpaint server is not running at http://127.0.0.1:8765")
    drawn = draw(bpy.types.UNDERPAINT_PT_main, context)
    props = {name for kind, name in drawn if kind == "prop"}
    assert {"prompt", "negative_prompt", "model", "style", "style_strength", "seed", "seed_lock", "use_color",
            "strength", "depth_weight", "pose_weight", "width", "height", "use_custom_range"} <= props
    assert ("operator", "underpaint.stylize_shot") in drawn
    assert ("operator", "underpaint.start_server") in drawn
    assert ("label", "The Underpaint server is not running at") in drawn  # wrapped to the sidebar's width


def test_running_job_shows_progress_and_cancel_in_panel_and_status_bar(
    addon: str, context: SimpleNamespace
) -> None:
    status = context.scene.underpaint.job
    status.state, status.progress, status.message = "running", 0.4, "painting: step 3/8"
    try:
        drawn = draw(bpy.types.UNDERPAINT_PT_main, context)
        assert ("progress", "painting: step 3/8") in drawn and ("operator", "underpaint.cancel_job") in drawn
        panel_module = sys.modules[f"{addon}.ui.panel"]
        header = SimpleNamespace(layout=RecordingLayout())
        panel_module.draw_status_bar(header, context)
        assert header.layout.record == [("progress", "Underpaint: painting: step 3/8")]
    finally:
        status.state = ""


def test_takes_and_styles_panels_draw_with_a_take(addon: str, context: SimpleNamespace) -> None:
    settings = context.scene.underpaint
    take = settings.takes.add()
    take.name, take.prompt, take.parent, take.kind = "shot-009", "moody", "shot-008", "rerender"
    settings.active_take = len(settings.takes) - 1
    try:
        drawn = draw(bpy.types.UNDERPAINT_PT_takes, context)
        assert ("list", "takes") in drawn and ("label", "Parent take shot-008") in drawn
        assert {("operator", f"underpaint.{op}") for op in ("load_take", "rerender_range", "refine_region")} <= set(
            drawn)
        assert ("operator", "underpaint.train_style") in draw(bpy.types.UNDERPAINT_PT_styles, context)
    finally:
        settings.takes.remove(settings.active_take)
        settings.active_take = len(settings.takes) - 1


def test_what_stylize_sends_follows_the_panel(addon: str) -> None:
    ops = sys.modules[f"{addon}.ui.job_params"]
    settings = bpy.context.scene.underpaint
    text = bpy.data.texts.new("long prompt")
    text.from_string("a rainy street at dusk,\nink and watercolour\n")
    settings.prompt, settings.prompt_text = "ignored while a text block is chosen", text
    settings.seed, settings.seed_lock = 5, False
    settings.use_normal, settings.use_pose, settings.depth_weight = False, True, 0.5
    settings.style, settings.style_strength = "inkwash", 0.7
    try:
        params = ops.paint_params(settings)
        assert params["prompt"] == "a rainy street at dusk,\nink and watercolour"
        assert params["seed"] == settings.seed and settings.seed != 5  # unlocked: a new seed, shown in the panel
        assert params["controls"] == {"depth": {"weight": 0.5, "start": 0.0, "end": 1.0},
                                      "pose": {"weight": 1.0, "start": 0.0, "end": 1.0}}
        assert params["styles"] == [{"name": "inkwash", "weight": 0.7}]
        settings.seed_lock = True
        assert ops.paint_params(settings)["seed"] == settings.seed
        take = settings.takes.add()
        take.name = "shot-001"
        edit = ops.edit_params(settings, take)
        assert edit["parent_take"] == "shot-001" and "width" not in edit and "height" not in edit
        settings.takes.remove(len(settings.takes) - 1)
        settings.prompt_text, settings.prompt = None, "  "
        with pytest.raises(ops.UserError, match="Write a prompt"):
            ops.paint_params(settings)
    finally:
        settings.prompt_text, settings.style = None, ""
        settings.depth_weight, settings.use_normal = 1.0, False
        bpy.data.texts.remove(text)
