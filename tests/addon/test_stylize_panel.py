"""The sidebar panels and the status bar draw without a window.

The `bpy` module has no screen to draw into, so each panel's `draw` runs against a layout
that records what it is asked to show; every property it names must exist on its data and
every operator must be registered, so a typo fails here instead of in the artist's sidebar.
"""

from __future__ import annotations

import sys
from pathlib import Path
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

    def prop(self, data: Any, name: str, text: str | None = None, **_kwargs: Any) -> None:
        assert name in data.bl_rna.properties, f"{type(data).__name__} has no property {name!r}"
        self.record.append(("prop", name))
        if text:
            self.record.append(("prop_text", text))

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
    sys.modules[f"{addon}.job_timer"].tick()  # as the add-on's timer does: the scene gets its controls
    scene = bpy.context.scene
    return SimpleNamespace(scene=scene, region=None, window_manager=bpy.context.window_manager)


def test_main_panel_names_real_properties_and_operators(
    addon: str, context: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = sys.modules[f"{addon}.server_status"].STATUS
    monkeypatch.setattr(status, "state", "not_running")
    monkeypatch.setattr(status, "message", "The Underpaint server is not running at http://127.0.0.1:8765")
    drawn = draw(bpy.types.UNDERPAINT_PT_main, context)
    props = {name for kind, name in drawn if kind == "prop"}
    assert {"prompt", "negative_prompt", "model", "style", "style_strength", "seed", "seed_lock", "use_color",
            "strength", "enabled", "weight", "size_mode", "width", "height", "use_custom_range"} <= props
    assert {("prop_text", "Depth"), ("prop_text", "Normal"), ("prop_text", "Pose")} <= set(drawn)
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
    job_params = sys.modules[f"{addon}.ui.job_params"]
    settings = bpy.context.scene.underpaint
    sys.modules[f"{addon}.controls"].sync(settings, None)
    text = bpy.data.texts.new("long prompt")
    text.from_string("a rainy street at dusk,\nink and watercolour\n")
    settings.prompt, settings.prompt_text = "ignored while a text block is chosen", text
    settings.seed, settings.seed_lock = 5, False
    settings.controls["normal"].enabled, settings.controls["pose"].enabled = False, True
    settings.controls["depth"].weight = 0.5
    settings.style, settings.style_strength = "inkwash", 0.7
    try:
        params = job_params.paint(settings, None).params()
        assert params["prompt"] == "a rainy street at dusk,\nink and watercolour"
        assert params["seed"] == settings.seed and settings.seed != 5  # unlocked: a new seed, shown in the panel
        assert params["controls"] == {"depth": {"weight": 0.5, "start": 0.0, "end": 1.0},
                                      "pose": {"weight": 1.0, "start": 0.0, "end": 1.0}}
        assert params["styles"] == [{"name": "inkwash", "weight": 0.7}]
        settings.seed_lock = True
        assert job_params.paint(settings, None).seed == settings.seed
        settings.prompt_text, settings.prompt = None, "  "
        with pytest.raises(job_params.UserError, match="Write a prompt"):
            job_params.paint(settings, None)
    finally:
        settings.prompt_text, settings.style = None, ""
        settings.controls["depth"].weight = 1.0
        bpy.data.texts.remove(text)


def test_a_model_set_with_an_extra_control_shows_it_and_sends_its_weight(
    addon: str, context: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The health response names a control the add-on has never heard of: the panel draws it, Stylize sends it."""
    status = sys.modules[f"{addon}.server_status"].STATUS
    for name in ("state", "message", "models", "default_model"):
        monkeypatch.setattr(status, name, getattr(status, name))  # restored after the test
    painter = {
        "name": "painter", "engine": "animatediff", "description": "", "available": True, "detail": "",
        "controls": [{"name": "depth", "label": "Depth", "default_weight": 1.0},
                     {"name": "pose", "label": "Pose", "default_weight": 1.0},
                     {"name": "edges", "label": "Edges", "default_weight": 0.8}],
        "native_size": [512, 512], "size_multiple": 8, "frame_multiple": 1, "frame_remainder": 0, "window": 16,
        "capabilities": {"masks": True, "references": False, "styles": False, "video2video": True},
    }
    scene = context.scene
    settings = scene.underpaint
    chosen, settings.model = settings.model, ""  # the server's default model set
    status._results.put({"state": "connected", "message": "Connected: Underpaint 0.1.0 on cpu",
                         "models": [painter], "default_model": "painter"})
    sys.modules[f"{addon}.job_timer"].tick()  # the health result is taken in on the main thread
    job_params = sys.modules[f"{addon}.ui.job_params"]
    try:
        assert [c.name for c in settings.controls if c.available] == ["depth", "pose", "edges"]
        edges = settings.controls["edges"]
        assert not edges.enabled and edges.weight == pytest.approx(0.8)
        scene.render.resolution_x, scene.render.resolution_y = 1920, 1080
        settings.size_mode = "AUTO"
        drawn = draw(bpy.types.UNDERPAINT_PT_main, context)
        assert ("prop_text", "Edges") in drawn and ("prop_text", "Normal") not in drawn
        assert ("prop", "style") not in drawn and ("prop", "use_color") in drawn  # what the set can do
        assert any(kind == "label" and text.startswith("680 x 384 px") for kind, text in drawn)
        assert job_params.generation_size(scene, status.model_set(settings.model)) == (680, 384)

        edges.enabled, edges.weight = True, 0.45
        settings.prompt, settings.style = "ink lines", "inkwash"
        params = job_params.paint(settings, status.model_set(settings.model)).params()
        assert params["controls"]["edges"] == {"weight": 0.45, "start": 0.0, "end": 1.0}
        assert "normal" not in params["controls"] and params["styles"] == []
        # The step cache is an opt-in the set must offer: not drawn nor sent for this one, even when ticked.
        settings.cache = True
        assert ("prop", "cache") not in drawn
        assert job_params.paint(settings, status.model_set(settings.model)).params()["cache"] is False
        painter["capabilities"]["cache"] = True  # the server now says the set offers it (as wan-vace does)
        status._results.put({"state": "connected", "message": "Connected: Underpaint 0.1.0 on cpu",
                             "models": [painter], "default_model": "painter"})
        sys.modules[f"{addon}.job_timer"].tick()
        assert ("prop", "cache") in draw(bpy.types.UNDERPAINT_PT_main, context)
        assert job_params.paint(settings, status.model_set(settings.model)).params()["cache"] is True
        # Draft too: the switch appears and a draft is sent only where health lists the set's draft models.
        settings.draft = True
        assert ("prop", "draft") not in drawn
        assert job_params.paint(settings, status.model_set(settings.model)).params()["quality"] == "final"
        painter["capabilities"]["draft"] = True
        painter["draft"] = {"steps": 4, "guidance": 1.0}
        status._results.put({"state": "connected", "message": "Connected: Underpaint 0.1.0 on cpu",
                             "models": [painter], "default_model": "painter"})
        sys.modules[f"{addon}.job_timer"].tick()
        assert ("prop", "draft") in draw(bpy.types.UNDERPAINT_PT_main, context)
        assert job_params.paint(settings, status.model_set(settings.model)).params()["quality"] == "draft"
    finally:
        settings.prompt, settings.model, settings.style, settings.cache = "", chosen, "", False
        settings.draft = False
        settings.controls.remove(settings.controls.find("edges"))
        for item in settings.controls:
            item.available = True


def test_a_takes_flicker_is_listed_and_worst_range_sets_the_preview_range(
    addon: str, context: SimpleNamespace, tmp_path: Path
) -> None:
    scene_takes = sys.modules[f"{addon}.scene_takes"]
    scene = bpy.context.scene
    settings = scene.underpaint
    temporal = {"median": 3.25, "floor": {"median": 0.5}, "worst_ranges": [[4, 6], [9, 10]], "pairs": []}
    index = scene_takes.add_take(scene, {"id": "shot-010", "params": {"prompt": "gouache"}, "frames": [1, 2, 3],
                                         "metrics": {"temporal": temporal}}, tmp_path)
    settings.active_take = index
    preview = (scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end, scene.frame_current)
    try:
        take = settings.takes[index]
        assert (take.flicker, take.flicker_floor, take.worst_start, take.worst_end) == (3.25, 0.5, 4, 6)
        drawn = draw(bpy.types.UNDERPAINT_PT_takes, context)
        assert ("label", "Flicker 3.2 (colour render 0.5); worst frames 4-6") in drawn
        assert ("operator", "underpaint.worst_range") in drawn
        assert bpy.ops.underpaint.worst_range() == {"FINISHED"}
        assert (scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end) == (True, 4, 6)
        # The curve the server drew, fetched beside the frames, opens as an image.
        plot = bpy.data.images.new("plot", 9, 3)
        plot.filepath_raw, plot.file_format = str(tmp_path / "temporal.png"), "PNG"
        plot.save()
        bpy.data.images.remove(plot)
        assert bpy.ops.underpaint.flicker_plot() == {"FINISHED"}
        assert tuple(bpy.data.images["temporal.png"].size) == (9, 3)
        # A take measured without motion vectors (or before QC) has no worst range to go to.
        plain = scene_takes.add_take(scene, {"id": "shot-011", "params": {}, "frames": [1, 2]}, tmp_path)
        settings.active_take = plain
        assert settings.takes[plain].flicker == -1.0
        assert not bpy.ops.underpaint.worst_range.poll()
        settings.takes.remove(plain)
        # A draft is marked in the list and in the take's details.
        draft = scene_takes.add_take(scene, {"id": "shot-012", "params": {"prompt": "ink", "quality": "draft"},
                                             "frames": [1, 2]}, tmp_path)
        settings.active_take = draft
        assert settings.takes[draft].quality == "draft" and settings.takes[index].quality == "final"
        assert ("label", "Take shot-012 (stylize, draft), frames 1-2") in draw(bpy.types.UNDERPAINT_PT_takes, context)
        settings.takes.remove(draft)
    finally:
        settings.takes.remove(index)
        settings.active_take = len(settings.takes) - 1
        scene.use_preview_range, scene.frame_preview_start, scene.frame_preview_end = preview[:3]
        scene.frame_set(preview[3])


@pytest.mark.parametrize("resolution", [(1440, 1080), (1920, 1080), (2048, 858)])  # 4:3, 16:9, 2.39:1
@pytest.mark.parametrize("native", [(512, 512), (832, 480)])
def test_auto_size_keeps_the_cameras_aspect(
    addon: str, context: SimpleNamespace, resolution: tuple[int, int], native: tuple[int, int]
) -> None:
    """AUTO paints at the camera's aspect (so the crop loses nothing and the background lines up), at about
    the model set's native pixel count, in its size steps; CUSTOM paints what was typed."""
    job_params = sys.modules[f"{addon}.ui.job_params"]
    model_set = sys.modules[f"{addon}.model_sets"].ModelSet("set", native_size=native, size_multiple=8)
    scene = context.scene
    settings = scene.underpaint
    saved = (scene.render.resolution_x, scene.render.resolution_y, settings.size_mode, settings.width,
             settings.height)
    try:
        scene.render.resolution_x, scene.render.resolution_y = resolution
        settings.size_mode = "AUTO"
        width, height = job_params.generation_size(scene, model_set)
        assert width % 8 == 0 and height % 8 == 0
        aspect = resolution[0] / resolution[1]
        assert abs(width / height - aspect) <= aspect * 8 / min(width, height)  # within one size step
        assert 0.8 <= width * height / (native[0] * native[1]) <= 1.2
        settings.size_mode, settings.width, settings.height = "CUSTOM", 320, 176
        assert job_params.generation_size(scene, model_set) == (320, 176)
    finally:
        (scene.render.resolution_x, scene.render.resolution_y, settings.size_mode, settings.width,
         settings.height) = saved
