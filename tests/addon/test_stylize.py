"""Stylize Shot, end to end: real bpy, the installed extension, a real `underpaint serve` subprocess
on a free loopback port (started by the backend's LiveServer), the tiny model set.

The operators run as a render farm runs them (background mode: they wait for the take), and
as the UI runs them (the job followed by the add-on's timer, here driven by hand because
timers never fire in the `bpy` module). How long a tick holds the main thread is a figure of
`make bench` (bench/blender/stylize_ui.py), not an assertion here.
"""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import bpy
import numpy as np
import pytest
from live_backend import BACKEND_PYTHON, BackendServer

from demo import blocking  # scenes built by code

SHOT_FRAMES = (1, 6)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackendServer]:
    running = BackendServer(tmp_path_factory.mktemp("server") / "data")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def modules(addon: str) -> dict[str, ModuleType]:
    return {name: sys.modules[f"{addon}.{name}"]
            for name in ("job_timer", "scene_takes", "server_process", "server_status")}


@pytest.fixture(scope="module")
def scene(addon: str, server: BackendServer, tmp_path_factory: pytest.TempPathFactory) -> bpy.types.Scene:
    """A small blocking shot (camera move, props, two walking rigs) set up to paint with `tiny`."""
    shot = blocking.build_demo_scene("Shot", resolution=(64, 64), frames=SHOT_FRAMES)
    prefs = bpy.context.preferences.addons[addon].preferences
    prefs.server_url = server.url
    prefs.output_dir = str(tmp_path_factory.mktemp("takes"))
    settings = shot.underpaint
    settings.prompt = "a painted street, two walkers"
    settings.model = "tiny"
    settings.size_mode = "CUSTOM"
    settings.width = settings.height = 64
    settings.steps = 2
    settings.seed, settings.seed_lock = 11, True
    return shot


@pytest.fixture(scope="module")
def first_take(scene: bpy.types.Scene) -> str:
    """The scene's first take, stylized as a render farm would (background mode: the operator waits)."""
    assert run_op(scene, "stylize_shot") == {"FINISHED"}
    return scene.underpaint.takes[0].name


def run_op(scene: bpy.types.Scene, operator: str, /, **props: Any) -> set[str]:
    """Call `bpy.ops.underpaint.<operator>` with `scene` as the context's scene (no window in the bpy module)."""
    with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
        return getattr(bpy.ops.underpaint, operator)(**props)


def drive_ticks(job_timer: ModuleType, job: Any, timeout: float = 300.0) -> None:
    """Play Blender's timer by hand until the job ends."""
    deadline = time.monotonic() + timeout
    while not job.finished:
        assert time.monotonic() < deadline, f"job still {job.state} after {timeout} s: {job.message}"
        job_timer.tick()
        time.sleep(0.02)


def file_digests(folder: Path) -> dict[str, str]:
    """The take's frames (`####.png`) by name -> sha256."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.glob("[0-9]*.png"))}


def our_backgrounds(scene: bpy.types.Scene, results: ModuleType) -> list[Any]:
    return [bg for bg in scene.camera.data.background_images
            if bg.image is not None and results.SHOT_KEY in bg.image]


def our_strips(scene: bpy.types.Scene, results: ModuleType) -> list[Any]:
    editor = scene.sequence_editor
    if editor is None:
        return []
    strips = editor.strips if hasattr(editor, "strips") else editor.sequences
    return [s for s in strips if results.SHOT_KEY in s]


def review_strips(scene: bpy.types.Scene, results: ModuleType) -> list[Any]:
    """The take strips of the shot's review scene (`<scene> Review`)."""
    (review,) = [s for s in bpy.data.scenes if s.get(results.REVIEW_KEY) == scene.name]
    return our_strips(review, results)


def started_job(job_timer: ModuleType, scene: bpy.types.Scene) -> Any:
    job = job_timer.active(scene.name)
    assert job is not None, "the operator started no job"
    assert bpy.app.timers.is_registered(job_timer.tick), "results must arrive through the add-on's timer"
    return job


# -- the loop -------------------------------------------------------------------------------------------------

def test_stylize_in_background_mode_brings_the_take_into_the_scene(
    addon: str, scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str
) -> None:
    results = modules["scene_takes"]
    settings = scene.underpaint
    assert len(settings.takes) == 1 and settings.active_take == 0
    take = settings.takes[0]
    assert (take.prompt, take.seed, take.model, take.kind, take.parent) == (
        "a painted street, two walkers", 11, "tiny", "stylize", "")
    assert (take.frame_start, take.frame_end) == SHOT_FRAMES
    folder = Path(take.directory)
    assert folder == Path(bpy.context.preferences.addons[addon].preferences.output_dir) / "Shot" / take.name
    assert [p.name for p in sorted(folder.glob("[0-9]*.png"))] == [f"{f:04d}.png" for f in range(1, 7)]
    # Temporal QC is on by default: the export carried motion vectors, so the take was measured.
    assert (folder / "temporal.png").is_file() and take.flicker >= 0
    assert settings.job.state == "done" and settings.job.progress == pytest.approx(1.0)
    server_take = server.get(f"/v1/takes/{take.name}")
    assert server_take["params"]["prompt"] == take.prompt and server_take["frames"] == list(range(1, 7))

    (background,) = our_backgrounds(scene, results)
    assert scene.camera.data.show_background_images and background.show_background_image
    image = background.image
    assert image.source == "SEQUENCE"
    assert Path(bpy.path.abspath(image.filepath)) == folder / "0001.png"
    user = background.image_user
    assert (user.frame_start, user.frame_duration, user.frame_offset) == (1, 6, 0)

    (strip,) = review_strips(scene, results)
    assert strip.channel == settings.review_channel
    assert (strip.frame_final_start, strip.frame_final_end) == (1, 7)
    assert Path(bpy.path.abspath(strip.directory)) == folder
    assert [e.filename for e in strip.elements] == [f"{f:04d}.png" for f in range(1, 7)]
    review = bpy.data.scenes[f"{scene.name} Review"]
    assert (review.frame_start, review.frame_end, review.render.fps) == (
        scene.frame_start, scene.frame_end, scene.render.fps)


def test_rendering_the_shot_after_stylize_renders_the_3d_scene(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], first_take: str, tmp_path: Path
) -> None:
    """The take's strip is not in the shot's own sequencer, where it would replace every render of the scene."""
    results = modules["scene_takes"]
    assert our_strips(scene, results) == []
    render = scene.render
    saved = (render.engine, render.filepath, render.image_settings.file_format, scene.frame_current)
    try:
        render.engine, render.filepath, render.image_settings.file_format = (
            "BLENDER_WORKBENCH", str(tmp_path / "render.png"), "PNG")
        scene.frame_set(1)
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            assert bpy.ops.render.render(write_still=True) == {"FINISHED"}
    finally:
        render.engine, render.filepath, render.image_settings.file_format = saved[:3]
        scene.frame_set(saved[3])
    rendered = bpy.data.images.load(str(tmp_path / "render.png"))
    take = bpy.data.images.load(str(Path(scene.underpaint.takes[0].directory) / "0001.png"))
    try:
        assert tuple(rendered.size) == (render.resolution_x * render.resolution_percentage // 100,
                                        render.resolution_y * render.resolution_percentage // 100)
        ours, theirs = np.array(rendered.pixels[:]), np.array(take.pixels[:])
        assert ours.shape != theirs.shape or not np.allclose(ours, theirs, atol=2 / 255)
    finally:
        bpy.data.images.remove(rendered)
        bpy.data.images.remove(take)


def test_a_job_followed_by_the_timer_brings_the_next_take(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], first_take: str
) -> None:
    job_timer, results = modules["job_timer"], modules["scene_takes"]
    settings = scene.underpaint
    takes_before = len(settings.takes)
    settings.steps = 4  # a job that lasts a few dozen ticks
    try:
        assert run_op(scene, "stylize_shot", run_mode="TIMERS") == {"FINISHED"}
        job = started_job(job_timer, scene)
        drive_ticks(job_timer, job)
    finally:
        settings.steps = 2

    assert job.state == "done", job.message
    assert len(settings.takes) == takes_before + 1 and settings.active_take == takes_before
    second = settings.takes[takes_before].name
    assert second != first_take
    (background,) = our_backgrounds(scene, results)  # the shot's previous take was replaced, not stacked
    assert background.image[results.TAKE_KEY] == second
    (strip,) = review_strips(scene, results)
    assert strip[results.TAKE_KEY] == second


def test_load_take_shows_an_earlier_take_and_fetches_missing_frames(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], first_take: str
) -> None:
    results = modules["scene_takes"]
    settings = scene.underpaint
    first = settings.takes[0]
    assert run_op(scene, "load_take", index=0) == {"FINISHED"}
    assert settings.active_take == 0
    assert our_backgrounds(scene, results)[0].image[results.TAKE_KEY] == first.name
    assert review_strips(scene, results)[0][results.TAKE_KEY] == first.name

    folder = Path(first.directory)
    digests = file_digests(folder)
    for path in folder.glob("*.png"):
        path.unlink()
    assert run_op(scene, "load_take", index=0) == {"FINISHED"}  # background mode: downloads, then shows
    assert file_digests(folder) == digests


def test_preview_frame_paints_one_window_around_the_current_frame_with_fewer_steps(
    addon: str, scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str
) -> None:
    settings = scene.underpaint
    settings.preview_steps = 1
    takes_before = len(settings.takes)
    scene.frame_set(4)
    try:
        assert run_op(scene, "preview_frame") == {"FINISHED"}
    finally:
        scene.frame_set(1)
    assert len(settings.takes) == takes_before + 1 and settings.active_take == takes_before
    preview = settings.takes[settings.active_take]
    sent = server.get(f"/v1/takes/{preview.name}")
    assert sent["params"]["steps"] == 1 and sent["params"]["prompt"] == settings.prompt
    # tiny paints 8 frames at once: the whole of this 6-frame shot is one window around frame 4.
    assert (preview.frame_start, preview.frame_end) == SHOT_FRAMES
    (background,) = our_backgrounds(scene, modules["scene_takes"])
    assert background.image[modules["scene_takes"].TAKE_KEY] == preview.name  # shown through the camera


def test_show_controls_loads_what_the_model_will_see_through_the_camera(
    addon: str, scene: bpy.types.Scene, modules: dict[str, ModuleType], first_take: str
) -> None:
    results = modules["scene_takes"]
    settings = scene.underpaint
    takes_before = len(settings.takes)
    assert run_op(scene, "show_controls") == {"FINISHED"}
    assert len(settings.takes) == takes_before  # nothing painted, no take
    enabled = [c.name for c in settings.controls if c.enabled and c.available]
    folder = Path(bpy.context.preferences.addons[addon].preferences.output_dir) / "Shot" / "controls"
    for control in enabled:
        names = sorted(p.name for p in (folder / control).glob("*.png"))
        assert names == [f"{f:04d}.png" for f in range(1, 7)], control
    shown = [bg for bg in scene.camera.data.background_images
             if bg.image is not None and results.CONTROL_KEY in bg.image]
    assert [bg.image[results.CONTROL_KEY] for bg in shown] == [f"Shot:{c}" for c in enabled]
    assert [bg.show_background_image for bg in shown] == [True] + [False] * (len(enabled) - 1)
    user = shown[0].image_user
    assert (user.frame_start, user.frame_duration, user.frame_offset) == (1, 6, 0)
    image = bpy.data.images.load(str(folder / enabled[0] / "0003.png"), check_existing=False)
    try:
        assert tuple(image.size) == (settings.width, settings.height)  # the size a job paints at
    finally:
        bpy.data.images.remove(image)
    # Showing them again replaces them, and the take is still behind them.
    assert run_op(scene, "show_controls") == {"FINISHED"}
    assert len([bg for bg in scene.camera.data.background_images
                if bg.image is not None and results.CONTROL_KEY in bg.image]) == len(enabled)
    assert len(our_backgrounds(scene, results)) == 1


def test_preview_range_is_one_window_inside_the_shot(addon: str) -> None:
    preview_range = sys.modules[f"{addon}.ui.job_params"].preview_range
    assert preview_range(50, 16, 1, 100) == (42, 57)
    assert preview_range(3, 16, 1, 100) == (1, 16)  # near the start: the first window
    assert preview_range(99, 16, 1, 100) == (85, 100)  # near the end: the last one
    assert preview_range(5, 16, 1, 8) == (1, 8)  # a shot shorter than a window: all of it
    assert preview_range(10, None, 1, 100) == (6, 13)  # a set that does not say: 8 frames


def test_rerender_range_makes_a_child_take(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], first_take: str
) -> None:
    settings = scene.underpaint
    parent = settings.takes[settings.active_take]
    parent_name, parent_frames = parent.name, file_digests(Path(parent.directory))  # the item moves as the list grows
    parent_folder = Path(parent.directory)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 3, 4
    try:
        assert run_op(scene, "rerender_range") == {"FINISHED"}
    finally:
        scene.use_preview_range = False
    child = settings.takes[settings.active_take]
    assert child.kind == "rerender" and child.parent == parent_name
    child_frames = file_digests(Path(child.directory))
    assert {n for n in child_frames if child_frames[n] != parent_frames[n]} <= {"0003.png", "0004.png"}
    assert {n: child_frames[n] for n in ("0001.png", "0006.png")} == {
        n: parent_frames[n] for n in ("0001.png", "0006.png")}
    assert file_digests(parent_folder) == parent_frames  # takes are immutable


def test_refine_region_masks_the_selected_objects(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str
) -> None:
    settings = scene.underpaint
    parent_name = settings.takes[settings.active_take].name  # the item moves as the list grows
    # Another test's scene may own "Sphere" already; then this scene's is "Sphere.001".
    sphere = next(obj for obj in scene.objects if obj.name.split(".")[0] == "Sphere")
    for obj in scene.objects:
        obj.select_set(obj == sphere, view_layer=scene.view_layers[0])
    assert run_op(scene, "refine_region") == {"FINISHED"}
    child = settings.takes[settings.active_take]
    assert child.kind == "refine" and child.parent == parent_name
    assert server.get(f"/v1/takes/{child.name}")["params"]["mask"]["objects"] == [sphere.name]


def changed_pixels(child: Path, parent: Path, frame: int) -> np.ndarray:
    """(rows, columns) where frame `frame` of the child take's folder differs from the parent's."""
    def pixels(folder: Path) -> np.ndarray:
        image = bpy.data.images.load(str(folder / f"{frame:04d}.png"), check_existing=False)
        try:
            values = np.empty(image.size[0] * image.size[1] * 4, np.float32)
            image.pixels.foreach_get(values)
            return np.flipud(values.reshape(image.size[1], image.size[0], 4))  # rows from the top
        finally:
            bpy.data.images.remove(image)

    return np.argwhere(np.abs(pixels(child) - pixels(parent)).max(axis=2) > 0)


def square_mask(name: str, path: dict[int, float]) -> bpy.types.Mask:
    """A Mask with one square (0.2 of the frame's width) whose left edge moves along `path` (frame -> x)."""
    mask = bpy.data.masks.new(name)
    layer = mask.layers.new(name="hand")
    spline = layer.splines.new()
    spline.points.add(3)
    spline.use_cyclic = True
    corners = [(0.0, 0.4), (0.2, 0.4), (0.2, 0.6), (0.0, 0.6)]
    for frame, x in path.items():
        for i, (dx, y) in enumerate(corners):
            point = spline.points[i]
            point.handle_type = "VECTOR"
            point.co = (x + dx, y)
            mask.keyframe_insert(f'layers["hand"].splines[0].points[{i}].co', frame=frame)
    return mask


def test_refine_inside_a_drawn_mask_follows_its_keyframes(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str
) -> None:
    """A Mask drawn and animated in Blender: only pixels inside it (plus Mask Grow and a pixel of edge)
    change, on every frame, and the changed region moves with the keyframes."""
    settings = scene.underpaint
    parent = settings.takes[settings.active_take]
    parent_name, parent_folder = parent.name, Path(parent.directory)  # the item moves as the list grows
    mask = square_mask("Hand", {1: 0.1, 6: 0.6})
    settings.refine_mask = mask  # Auto refines inside the chosen Mask
    try:
        assert run_op(scene, "refine_region") == {"FINISHED"}
    finally:
        settings.refine_mask = None
        bpy.data.masks.remove(mask)
    child = settings.takes[settings.active_take]
    assert child.kind == "refine" and child.parent == parent_name
    sent = server.get(f"/v1/takes/{child.name}")["params"]["mask"]
    assert sent["objects"] == [] and sorted(int(f) for f in sent["frames"]) == list(range(1, 7))
    grow = settings.mask_dilate + 1
    width = scene.render.resolution_x  # the mask's space spans the longer side, the frame is square
    centres = []
    for frame in range(1, 7):
        # On the keyed frames the square is where it was keyed; between them it eases from one to the other.
        left, right = {1: (0.1, 0.3), 6: (0.6, 0.8)}.get(frame, (0.1, 0.8))
        changed = changed_pixels(Path(child.directory), parent_folder, frame)
        assert len(changed), f"frame {frame}: nothing was repainted"
        rows, columns = changed[:, 0], changed[:, 1]
        assert columns.min() >= left * width - grow and columns.max() <= right * width + grow, frame
        assert rows.min() >= 0.4 * width - grow and rows.max() <= 0.6 * width + grow, frame
        centres.append(columns.mean())
    assert centres == sorted(centres) and centres[-1] - centres[0] > 0.4 * width  # it moved with the keys


def test_preview_mask_shows_the_current_frames_mask_over_the_take(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], first_take: str
) -> None:
    results = modules["scene_takes"]
    settings = scene.underpaint
    mask = square_mask("Preview", {1: 0.1, 6: 0.6})
    settings.refine_mask = mask
    scene.frame_set(6)
    try:
        assert run_op(scene, "preview_mask") == {"FINISHED"}
    finally:
        settings.refine_mask = None
        bpy.data.masks.remove(mask)
        scene.frame_set(1)
    (preview,) = [bg for bg in scene.camera.data.background_images
                  if bg.image is not None and results.MASK_KEY in bg.image]
    assert preview.display_depth == "FRONT" and preview.show_background_image
    image = preview.image
    width, height = image.size
    pixels = np.empty(width * height * 4, np.float32)
    image.pixels.foreach_get(pixels)
    rgba = np.flipud(pixels.reshape(height, width, 4))
    covered = np.argwhere(rgba[..., 3] > 0.4)
    # Frame 6's square, keyed at x 0.6-0.8, y 0.4-0.6 of the frame: red, half see-through, nothing else.
    assert covered[:, 1].min() >= 0.6 * width - 2 and covered[:, 1].max() <= 0.8 * width + 2
    assert covered[:, 0].min() >= 0.4 * height - 2 and covered[:, 0].max() <= 0.6 * height + 2
    assert np.allclose(rgba[covered[:, 0], covered[:, 1], 3], 0.5, atol=0.01)
    assert (rgba[covered[:, 0], covered[:, 1], 0] > 0.9).all() and rgba[..., 3].sum() < 0.5 * width * height * 0.1
    # The take itself still shows behind it.
    assert len(our_backgrounds(scene, results)) == 1


def test_refining_an_object_hidden_from_renders_is_refused(scene: bpy.types.Scene, first_take: str) -> None:
    sphere = next(obj for obj in scene.objects if obj.name.split(".")[0] == "Sphere")
    for obj in scene.objects:
        obj.select_set(obj == sphere, view_layer=scene.view_layers[0])
    sphere.hide_render = True
    try:
        with pytest.raises(RuntimeError, match="hidden from renders"):
            run_op(scene, "refine_region")
    finally:
        sphere.hide_render = False


def test_refine_the_selected_bone_follows_the_hand(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str
) -> None:
    """A selected hand bone of a walking rig: the changed pixels lie around the projected hand on each
    frame, not over the whole rig."""
    from bpy_extras.object_utils import world_to_camera_view

    settings = scene.underpaint
    parent = settings.takes[settings.active_take]
    parent_name, parent_folder = parent.name, Path(parent.directory)  # the item moves as the list grows
    hero = next(obj for obj in scene.objects if obj.type == "ARMATURE" and obj.name.startswith("Hero"))
    hand = hero.pose.bones[hero["blocking_roles"]["hand.L"]]
    view_layer = scene.view_layers[0]
    previous_active = view_layer.objects.active
    view_layer.objects.active = hero
    for bone in hero.pose.bones:  # PoseBone.select in 5.0, Bone.select in 4.2
        (bone if bpy.app.version >= (5, 0, 0) else bone.bone).select = bone == hand
    settings.refine_source = "BONES"
    try:
        with bpy.context.temp_override(scene=scene, view_layer=view_layer, active_object=hero):
            assert bpy.ops.underpaint.refine_region() == {"FINISHED"}
    finally:
        settings.refine_source = "AUTO"
        view_layer.objects.active = previous_active
    child = settings.takes[settings.active_take]
    assert child.kind == "refine" and child.parent == parent_name
    size = scene.render.resolution_x
    spread = []
    for frame in range(1, 7):
        scene.frame_set(frame)
        ends = [world_to_camera_view(scene, scene.camera, hero.matrix_world @ point) for point in (hand.head, hand.tail)]
        pixels = np.array([((1 - p.y) * size, p.x * size) for p in ends])  # (row, column) from the top left
        changed = changed_pixels(Path(child.directory), parent_folder, frame)
        if not len(changed):
            continue  # the hand may be hidden behind the body on a frame; the others show it
        distance = np.min(np.linalg.norm(changed[:, None, :] - pixels[None, :, :], axis=2), axis=1)
        assert distance.max() <= 0.2 * size, f"frame {frame}: repainted pixels far from the hand"
        spread.append(len(changed))
    scene.frame_set(1)
    assert spread, "the hand was repainted on no frame"
    assert max(spread) < 0.15 * size * size  # a hand, not the whole figure


# -- what the panel shows ------------------------------------------------------------------------------------

def test_server_status_is_checked_off_the_main_thread(
    modules: dict[str, ModuleType], server: BackendServer
) -> None:
    """The panel's server line: a health check in a thread, taken in by a tick; then a dead address."""
    server_status = modules["server_status"]
    client_module = sys.modules[server_status.__name__.rsplit(".", 1)[0] + ".client"]
    status = server_status.ServerStatus()
    for url, expected in ((server.url, "connected"), (f"http://127.0.0.1:{free_port()}", "not_running")):
        status.request(client_module.Client(url))
        status.maybe_check()
        assert status._thread is not None and status.state != expected  # the answer comes later, by a tick
        status._thread.join(timeout=10)
        assert status.apply() and status.state == expected, status.message
        if expected == "connected":
            assert "tiny" in status.model_names()


# -- errors the artist can act on -----------------------------------------------------------------------------

def test_server_down_is_a_clear_report(
    addon: str, scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer
) -> None:
    prefs = bpy.context.preferences.addons[addon].preferences
    takes_before = len(scene.underpaint.takes)
    prefs.server_url = f"http://127.0.0.1:{free_port()}"
    try:
        with pytest.raises(RuntimeError) as caught:
            run_op(scene, "stylize_shot")
    finally:
        prefs.server_url = server.url
    text = str(caught.value)
    assert "not running" in text and "Start Local Server" in text and "Traceback" not in text
    assert len(scene.underpaint.takes) == takes_before


def test_unsaved_blend_asks_for_an_output_folder(addon: str, scene: bpy.types.Scene) -> None:
    prefs = bpy.context.preferences.addons[addon].preferences
    chosen = prefs.output_dir
    prefs.property_unset("output_dir")  # the default, "//underpaint": next to the .blend
    try:
        with pytest.raises(RuntimeError, match="Save the .blend file first, or set an absolute Output Folder"):
            run_op(scene, "stylize_shot")
    finally:
        prefs.output_dir = chosen


def test_no_camera_is_refused(scene: bpy.types.Scene) -> None:
    camera = scene.camera
    scene.camera = None
    try:
        with pytest.raises(RuntimeError, match="no camera"):
            run_op(scene, "stylize_shot")
    finally:
        scene.camera = camera


def test_pose_without_a_rig_is_refused_before_the_export(addon: str, scene: bpy.types.Scene) -> None:
    """Today's default (Pose ticked) on a shot with no armature: refused with the fix, nothing exported."""
    plain = bpy.data.scenes.new("NoRig")
    plain.render.resolution_x = plain.render.resolution_y = 64
    plain.frame_start, plain.frame_end = 1, 2
    camera = bpy.data.objects.new("NoRigCamera", bpy.data.cameras.new("NoRigCamera"))
    plain.collection.objects.link(camera)
    plain.camera = camera
    settings = plain.underpaint
    settings.model, settings.prompt, settings.steps = "tiny", "x", 1
    try:
        for name in ("depth", "pose"):
            added = settings.controls.add()
            added.name, added.enabled, added.weight, added.available = name, True, 1.0, True
        with pytest.raises(RuntimeError, match="untick Pose in Controls, or add a humanoid armature"):
            run_op(plain, "stylize_shot")
        assert not (Path(bpy.context.preferences.addons[addon].preferences.output_dir) / "NoRig").exists()
    finally:
        bpy.data.scenes.remove(plain)
        bpy.data.objects.remove(camera)


def test_an_unknown_style_is_refused_before_the_export(scene: bpy.types.Scene) -> None:
    settings = scene.underpaint
    settings.style = "no-such-style"
    try:
        with pytest.raises(RuntimeError, match="no style named 'no-such-style'"):
            run_op(scene, "stylize_shot")
    finally:
        settings.style = ""


def test_missing_weights_name_the_pull_command(scene: bpy.types.Scene, server: BackendServer) -> None:
    missing = [m["name"] for m in server.get("/v1/health")["models"] if not m["available"]]
    assert missing, "expected model sets without weights on a test machine"
    settings = scene.underpaint
    settings.model = missing[0]
    try:
        with pytest.raises(RuntimeError, match=f"underpaint models pull {missing[0]}"):
            run_op(scene, "stylize_shot")
    finally:
        settings.model = "tiny"


def test_cancel_stops_the_job_on_the_server(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str
) -> None:
    job_timer = modules["job_timer"]
    settings = scene.underpaint
    takes_before = len(settings.takes)
    settings.steps = 40  # long enough to be caught running
    try:
        run_op(scene, "stylize_shot", run_mode="TIMERS")
    finally:
        settings.steps = 2
    job = started_job(job_timer, scene)
    while job.server_id is None and not job.finished:
        job_timer.tick()
        time.sleep(0.02)
    assert run_op(scene, "cancel_job") == {"FINISHED"}
    drive_ticks(job_timer, job)
    assert job.state == "cancelled" and settings.job.state == "cancelled"
    assert server.get(f"/v1/jobs/{job.server_id}")["state"] == "cancelled"
    assert len(settings.takes) == takes_before


def test_killed_server_fails_the_job_and_keeps_the_previous_take(
    addon: str, scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, first_take: str,
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """'Start Local Server' starts a second server (with an access token); it is killed (-9) while it paints."""
    job_timer, results, server_process = modules["job_timer"], modules["scene_takes"], modules["server_process"]
    server_status = modules["server_status"]
    client_module = sys.modules[job_timer.__name__.rsplit(".", 1)[0] + ".client"]
    prefs = bpy.context.preferences.addons[addon].preferences
    settings = scene.underpaint
    previous = settings.takes[settings.active_take]
    previous_name, previous_frames = previous.name, file_digests(Path(previous.directory))
    monkeypatch.setenv("UNDERPAINT_DATA_DIR", str(tmp_path / "second-server"))
    prefs.server_url = f"http://127.0.0.1:{free_port()}"
    prefs.backend_command = f"{BACKEND_PYTHON} -m underpaint.cli"
    prefs.token = "s3cret"
    settings.steps = 40
    try:
        assert run_op(scene, "start_server") == {"FINISHED"}  # background mode: waits until it answers
        assert server_process.is_running()
        assert server_status.health_result(client_module.Client(prefs.server_url))["state"] == "wrong_token"
        assert server_status.health_result(server_status.preferences_client())["state"] == "connected"
        run_op(scene, "stylize_shot", run_mode="TIMERS")
        job = started_job(job_timer, scene)
        while job.state not in ("running", "queued") and not job.finished:
            job_timer.tick()
            time.sleep(0.02)
        os.kill(server_process._process.pid, signal.SIGKILL)
        drive_ticks(job_timer, job, timeout=60)
    finally:
        server_process.stop()
        prefs.server_url, prefs.token = server.url, ""
        settings.steps = 2

    assert job.state == "failed" and settings.job.state == "failed"
    assert "Lost the connection to the server" in settings.job.message
    assert settings.takes[settings.active_take].name == previous_name
    assert file_digests(Path(previous.directory)) == previous_frames
    assert our_backgrounds(scene, results)[0].image[results.TAKE_KEY] == previous_name
    assert review_strips(scene, results)[0][results.TAKE_KEY] == previous_name


# -- styles ----------------------------------------------------------------------------------------------------

def write_png(path: Path, rng: np.random.Generator, size: int = 48) -> None:
    image = bpy.data.images.new(path.stem, size, size)
    image.pixels.foreach_set(rng.random(size * size * 4).astype(np.float32))
    image.filepath_raw = str(path)
    image.file_format = "PNG"
    image.save()
    bpy.data.images.remove(image)


def test_train_style_from_a_folder_then_paint_with_it(
    scene: bpy.types.Scene, modules: dict[str, ModuleType], server: BackendServer, tmp_path: Path
) -> None:
    server_status = modules["server_status"]
    rng = np.random.default_rng(3)
    for name in ("a", "b", "c"):
        write_png(tmp_path / f"{name}.png", rng)
    (tmp_path / "a.txt").write_text("testlook, a red scribble")
    (tmp_path / "notes.md").write_text("not an image: left out")
    settings = scene.underpaint

    assert run_op(scene, "train_style", directory=str(tmp_path), name="testlook", steps=2, rank=2,
                  resolution=32) == {"FINISHED"}
    assert settings.style_job.state == "done", settings.style_job.message
    assert settings.style == "testlook" and "testlook" in server_status.STATUS.styles
    assert "testlook" in [s["name"] for s in server.get("/v1/styles")["styles"]]

    settings.style_strength = 0.5
    try:
        assert run_op(scene, "stylize_shot") == {"FINISHED"}
    finally:
        settings.style = ""
    take = settings.takes[settings.active_take]
    assert take.style == "testlook:0.5"
    assert server.get(f"/v1/takes/{take.name}")["params"]["styles"] == [{"name": "testlook", "weight": 0.5}]
