"""Shot package export in real Blender: the measurements, the package files, and the artist's scene left alone.

Scenes are built by `demo/blocking.py`; renders are tiny (64x48 and so on) and
a few frames long. EXR files are read back with OpenEXR, independently of the
add-on's own reader.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import json
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import bpy
import jsonschema
import numpy as np
import OpenEXR
import pytest
from conftest import ROOT

from demo import blocking

SCHEMAS = ROOT / "backend" / "underpaint" / "shot"


def passes_module(addon: str, name: str = "") -> ModuleType:
    return importlib.import_module(f"{addon}.passes" + (f".{name}" if name else ""))


def read_exr(path: Path) -> dict[str, np.ndarray]:
    """Every channel of every part, as OpenEXR reads it."""
    channels: dict[str, np.ndarray] = {}
    for part in OpenEXR.File(str(path), separate_channels=True).parts:
        channels.update({name: channel.pixels for name, channel in part.channels.items()})
    return channels


def load_package(shot_json: Path) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """shot.json and pose.json, validated against the checked-in schemas, every file checked against its hash."""
    shot = json.loads(shot_json.read_text())
    jsonschema.Draft202012Validator(json.loads((SCHEMAS / "shot.schema.json").read_text())).validate(shot)
    root = shot_json.parent
    files = [frame["passes"] for frame in shot["frames"]] + [frame["color"] for frame in shot["frames"]
                                                             if "color" in frame]
    files += [shot["pose"]] if "pose" in shot else []
    for record in files:
        assert hashlib.sha256((root / record["path"]).read_bytes()).hexdigest() == record["sha256"], record
    pose = None
    if "pose" in shot:
        pose = json.loads((root / shot["pose"]["path"]).read_text())
        jsonschema.Draft202012Validator(json.loads((SCHEMAS / "pose.schema.json").read_text())).validate(pose)
    return shot, pose


def frame_channels(shot_json: Path, shot: dict[str, Any], index: int) -> dict[str, np.ndarray]:
    """The measurements of the index-th frame, by what shot.json says holds them."""
    channels = read_exr(shot_json.parent / shot["frames"][index]["passes"]["path"])
    out = {}
    for measurement, record in shot["passes"].items():
        stacked = np.stack([channels[name] for name in record["channels"]], axis=-1)
        out[measurement] = stacked[..., 0] if stacked.shape[-1] == 1 else stacked
    return out


@dataclass(frozen=True)
class Exported:
    """An exported package and the names its scene's objects really got."""

    shot_json: Path
    shot: dict[str, Any]
    names: dict[str, str]

    def __iter__(self) -> Iterator[Any]:
        return iter((self.shot_json, self.shot))


def object_index(shot: dict[str, Any], name: str) -> int:
    return next(entry["index"] for entry in shot["objects"] if entry["name"] == name)


# --- a plane square to the camera --------------------------------------------------------------------------


# Object names are looked up through the objects the builders return: other tests' scenes in the same
# Blender session may hold an object of the same name already (Blender then names ours "Backdrop.001").


@pytest.fixture(scope="module")
def facing(addon: str, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    scene = blocking.new_scene("Facing", resolution=(64, 48), frames=(1, 2))
    camera = blocking.add_camera(scene, (2.0, -6.0, 2.5), (0.0, 0.0, 1.0), lens=50.0)
    plane = blocking.add_facing_plane(scene, camera, 4.0, 40.0)
    passes = passes_module(addon)
    shot_json = passes.export_shot(scene, tmp_path_factory.mktemp("facing"), 1, 2, passes.ExportOptions())
    shot, _pose = load_package(shot_json)
    return Exported(shot_json, shot, {"plane": plane.name})


def test_facing_plane_depth_is_its_distance_everywhere(facing: Exported) -> None:
    shot_json, shot = facing
    for index in range(len(shot["frames"])):
        depth = frame_channels(shot_json, shot, index)["depth"]
        assert depth.shape == (48, 64)
        np.testing.assert_allclose(depth, 4.0, atol=1e-4)


def test_facing_plane_normal_points_at_the_camera(facing: Exported) -> None:
    shot_json, shot = facing
    normal = frame_channels(shot_json, shot, 0)["normal"]
    assert shot["passes"]["normal"]["space"] == "camera"
    np.testing.assert_allclose(normal, np.broadcast_to([0.0, 0.0, 1.0], normal.shape), atol=1e-4)


def test_facing_plane_fills_the_index_pass(facing: Exported) -> None:
    shot_json, shot = facing
    plane = facing.names["plane"]
    assert [entry["name"] for entry in shot["objects"]] == [plane]
    assert np.all(frame_channels(shot_json, shot, 0)["object_index"] == object_index(shot, plane))


def test_package_records_what_blender_wrote(facing: Exported) -> None:
    shot_json, shot = facing
    written = read_exr(shot_json.parent / shot["frames"][0]["passes"]["path"])
    recorded = [name for record in shot["passes"].values() for name in record["channels"]]
    assert set(recorded) <= set(written)
    assert shot["passes"]["depth"]["channels"] == ["ViewLayer.Depth.Z"]
    assert shot["passes"]["normal"]["channels"] == [f"ViewLayer.CameraNormal.{c}" for c in "RGB"]
    assert shot["resolution"] == {"width": 64, "height": 48}
    assert [frame["frame"] for frame in shot["frames"]] == [1, 2]
    assert shot["frames"][0]["camera"]["lens_mm"] == pytest.approx(50.0)


def test_addon_exr_reader_agrees_with_openexr(addon: str, facing: Exported) -> None:
    shot_json, shot = facing
    path = shot_json.parent / shot["frames"][0]["passes"]["path"]
    reference = read_exr(path)
    exr = passes_module(addon, "exr")
    assert sorted(exr.channel_names(path)) == sorted(reference)
    ours = exr.read_channels(path, sorted(reference))
    for name, pixels in reference.items():
        np.testing.assert_array_equal(ours[name], pixels.astype(np.float32))


def test_openpose_joint_order_matches_the_backend(addon: str) -> None:
    tree = ast.parse((SCHEMAS / "models.py").read_text())
    backend = next(ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.AnnAssign)
                   and getattr(node.target, "id", "") == "OPENPOSE_KEYPOINTS")
    assert passes_module(addon, "bone_maps").OPENPOSE_KEYPOINTS == backend


# --- a static cube and a sphere flying away ----------------------------------------------------------------


@pytest.fixture(scope="module")
def moving(addon: str, tmp_path_factory: pytest.TempPathFactory) -> Exported:
    scene = blocking.new_scene("Moving", resolution=(64, 64), frames=(1, 3))
    blocking.add_camera(scene, (0.0, -8.0, 0.0), (0.0, 0.0, 0.0), lens=35.0)
    cube = blocking.add_box(scene, "StaticCube", (1.5, 1.5, 1.5), (-1.5, 0.0, 0.0))
    sphere = blocking.add_sphere(scene, "Flyer", 1.2, (1.5, 0.0, 0.0))
    blocking.keyframe_path(sphere, {1: (1.5, 0.0, 0.0), 2: (1.6, 20.0, 0.0), 3: (1.7, 60.0, 0.0)})
    passes = passes_module(addon)
    shot_json = passes.export_shot(scene, tmp_path_factory.mktemp("moving"), 1, 3, passes.ExportOptions())
    shot, _pose = load_package(shot_json)
    return Exported(shot_json, shot, {"cube": cube.name, "flyer": sphere.name})


def test_same_blocking_exports_the_same_bytes(addon: str, tmp_path: Path) -> None:
    """Re-exporting unchanged blocking must upload nothing new: no dates or render times in the files."""
    scene = blocking.new_scene("Repeat", resolution=(160, 120), frames=(1, 2))
    blocking.add_camera(scene, (0.0, -8.0, 0.0), (0.0, 0.0, 0.0), lens=35.0)
    blocking.add_sphere(scene, "RepeatBall", 1.2, (0.0, 0.0, 0.0))
    passes = passes_module(addon)
    runs = [load_package(passes.export_shot(scene, tmp_path / str(i), 1, 2, passes.ExportOptions()))[0]
            for i in range(2)]
    assert [f["passes"]["sha256"] for f in runs[0]["frames"]] == [f["passes"]["sha256"] for f in runs[1]["frames"]]
    header = OpenEXR.File(str(tmp_path / "0" / runs[0]["frames"][0]["passes"]["path"]), header_only=True)
    times = {k: v for part in header.parts for k, v in part.header.items() if k.endswith("_time")}
    assert times and set(times.values()) == {"00:00.00"}


def test_static_object_keeps_its_depth_while_another_flies_away(moving: Exported) -> None:
    shot_json, shot = moving
    frames = [frame_channels(shot_json, shot, i) for i in range(3)]
    cube, flyer = object_index(shot, moving.names["cube"]), object_index(shot, moving.names["flyer"])
    cube_mask = frames[0]["object_index"] == cube
    assert cube_mask.sum() > 100
    for later in frames[1:]:
        np.testing.assert_array_equal(later["object_index"] == cube, cube_mask)
        np.testing.assert_array_equal(later["depth"][cube_mask], frames[0]["depth"][cube_mask])
    near = frames[0]["depth"][frames[0]["object_index"] == flyer]
    far = frames[2]["depth"][frames[2]["object_index"] == flyer]
    assert near.size and far.size  # seen near and far
    assert near.max() < 8.0 and far.min() > 60.0


def test_normals_follow_the_camera_axes(moving: Exported) -> None:
    shot_json, shot = moving
    frame = frame_channels(shot_json, shot, 0)
    mask = frame["object_index"] == object_index(shot, moving.names["flyer"])
    rows, columns = np.nonzero(mask)
    normals = frame["normal"]
    np.testing.assert_allclose(np.linalg.norm(normals[mask], axis=-1), 1.0, atol=1e-3)
    assert np.all(normals[~(frame["depth"] < 1e9)] == 0.0)  # background: the zero vector
    top, right = (rows.min() + 1, int(np.median(columns))), (int(np.median(rows)), columns.max() - 1)
    assert normals[top][1] > 0.5  # the sphere's top faces up (+Y)
    assert normals[right][0] > 0.5  # its right side faces right (+X)
    assert np.all(normals[mask][:, 2] > -1e-3)  # nothing seen faces away from the camera


def test_motion_vectors_move_only_with_the_moving_object(moving: Exported) -> None:
    shot_json, shot = moving
    frame = frame_channels(shot_json, shot, 1)
    cube = frame["object_index"] == object_index(shot, moving.names["cube"])
    flyer = frame["object_index"] == object_index(shot, moving.names["flyer"])
    assert np.all(frame["motion"][cube] == 0.0)
    assert np.abs(frame["motion"][flyer]).max() > 1.0


def test_pass_indices_are_stable_and_put_back(addon: str, tmp_path: Path) -> None:
    scene = blocking.new_scene("Indices", resolution=(16, 16), frames=(1, 1))
    blocking.add_camera(scene, (0.0, -8.0, 0.0), (0.0, 0.0, 0.0))
    boxes = [blocking.add_box(scene, name, (1.0, 1.0, 1.0), (x, 0.0, 0.0))
             for name, x in (("Zed", -2.0), ("Alpha", 0.0), ("Mid", 2.0))]
    boxes[0].pass_index = 9
    passes = passes_module(addon)
    tables = [load_package(passes.export_shot(scene, tmp_path / str(i), 1, 1, passes.ExportOptions()))[0]["objects"]
              for i in range(2)]
    alpha, mid, zed = boxes[1].name, boxes[2].name, boxes[0].name
    assert tables[0] == tables[1] == [{"index": 1, "name": alpha}, {"index": 2, "name": mid},
                                      {"index": 3, "name": zed}]
    assert [box.pass_index for box in boxes] == [9, 0, 0]


# --- the artist's scene is left exactly as it was ---------------------------------------------------------


def _settings(struct: Any) -> dict[str, Any]:
    values = {}
    for prop in struct.bl_rna.properties:
        if prop.type not in ("POINTER", "COLLECTION"):
            with warnings.catch_warnings():  # reading deprecated settings (Scene.use_nodes) is part of the check
                warnings.simplefilter("ignore", DeprecationWarning)
                value = getattr(struct, prop.identifier)
            values[prop.identifier] = tuple(value) if hasattr(value, "__len__") and not isinstance(value, str) \
                else value
    return values


def snapshot(scene: bpy.types.Scene) -> dict[str, Any]:
    """Every plain setting of the render, output, Cycles, Workbench, colour management and view layer."""
    layer = scene.view_layers[0]
    structs = {"render": scene.render, "image": scene.render.image_settings, "cycles": scene.cycles,
               "shading": scene.display.shading, "view": scene.view_settings, "layer": layer,
               "layer_cycles": layer.cycles, "scene": scene}
    state = {name: _settings(struct) for name, struct in structs.items()}
    state["override"] = layer.material_override.name if layer.material_override else None
    state["aovs"] = [(aov.name, aov.type) for aov in layer.aovs]
    state["pass_index"] = {obj.name: obj.pass_index for obj in scene.objects}
    state["matrices"] = {obj.name: [tuple(row) for row in obj.matrix_world] for obj in scene.objects}
    state["data"] = (len(bpy.data.scenes), len(bpy.data.materials), len(bpy.data.objects))
    return state


@pytest.fixture()
def artist_scene() -> bpy.types.Scene:
    """A scene set up the way an artist might have it: Workbench, JPEG output, compositor, odd passes."""
    scene = blocking.new_scene("Artist", resolution=(64, 32), frames=(1, 3))
    scene.frame_current = 2
    camera = blocking.add_camera(scene, (0.0, -6.0, 0.0), (0.0, 0.0, 0.0))
    blocking.keyframe_path(camera, {1: (0.0, -6.0, 0.0), 3: (1.0, -5.0, 0.5)})
    blocking.add_facing_plane(scene, camera, 5.0, 30.0).pass_index = 7
    render = scene.render
    render.engine = "BLENDER_WORKBENCH"
    render.filepath = "//renders/artist_"
    render.image_settings.file_format = "JPEG"
    render.resolution_percentage = 50
    render.film_transparent = True
    render.use_motion_blur = True
    render.use_compositing = True
    render.use_persistent_data = False
    scene.cycles.samples = 77
    scene.cycles.filter_width = 2.5
    layer = scene.view_layers[0]
    layer.use_pass_mist = True
    layer.use_pass_normal = True
    layer.material_override = bpy.data.materials.new("ArtistClay")
    layer.aovs.add().name = "ArtistAOV"
    scene.frame_set(2)  # evaluated, as a scene open in Blender is
    return scene


def test_export_leaves_the_artist_scene_untouched(addon: str, artist_scene: bpy.types.Scene, tmp_path: Path) -> None:
    before = snapshot(artist_scene)
    passes = passes_module(addon)
    shot, _pose = load_package(passes.export_shot(artist_scene, tmp_path, 1, 3, passes.ExportOptions(color=True)))
    assert snapshot(artist_scene) == before
    assert shot["resolution"] == {"width": 32, "height": 16}  # the scene's size at its percentage
    assert artist_scene.frame_current == 2


def test_cancel_and_failure_leave_the_artist_scene_untouched(
    addon: str, artist_scene: bpy.types.Scene, tmp_path: Path
) -> None:
    before = snapshot(artist_scene)
    passes = passes_module(addon)
    seen = []
    with pytest.raises(passes.ExportCancelled):
        passes.export_shot(artist_scene, tmp_path / "cancelled", 1, 3, passes.ExportOptions(color=True),
                           progress=lambda done, total: seen.append(done), should_cancel=lambda: len(seen) == 1)
    assert seen == [1]
    assert not (tmp_path / "cancelled" / "shot.json").exists()
    assert snapshot(artist_scene) == before

    def explode(done: int, total: int) -> None:
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        passes.export_shot(artist_scene, tmp_path / "failed", 1, 3, passes.ExportOptions(), progress=explode)
    assert snapshot(artist_scene) == before


def test_camera_is_recorded_per_frame(addon: str, artist_scene: bpy.types.Scene, tmp_path: Path) -> None:
    passes = passes_module(addon)
    shot, _pose = load_package(passes.export_shot(artist_scene, tmp_path, 1, 3, passes.ExportOptions()))
    for record in shot["frames"]:
        artist_scene.frame_set(record["frame"])
        expected = [list(row) for row in artist_scene.camera.matrix_world]
        np.testing.assert_allclose(record["camera"]["matrix_world"], expected, atol=1e-6)
    assert shot["frames"][0]["camera"]["matrix_world"] != shot["frames"][2]["camera"]["matrix_world"]


def test_colour_frames_are_written_and_hashed(addon: str, artist_scene: bpy.types.Scene, tmp_path: Path) -> None:
    passes = passes_module(addon)
    shot, _pose = load_package(passes.export_shot(artist_scene, tmp_path, 1, 2, passes.ExportOptions(color=True)))
    assert [frame["color"]["path"] for frame in shot["frames"]] == ["color/0001.png", "color/0002.png"]
    image = bpy.data.images.load(str(tmp_path / "color" / "0001.png"))
    try:
        assert tuple(image.size) == (32, 16)
    finally:
        bpy.data.images.remove(image)


# --- errors -------------------------------------------------------------------------------------------------


def test_clear_errors_for_no_camera_no_frames_and_an_unwritable_folder(addon: str, tmp_path: Path) -> None:
    passes = passes_module(addon)
    scene = blocking.new_scene("Errors", resolution=(16, 16), frames=(1, 2))
    with pytest.raises(passes.ExportError, match="has no camera"):
        passes.export_shot(scene, tmp_path, 1, 2)
    blocking.add_camera(scene, (0.0, -5.0, 0.0), (0.0, 0.0, 0.0))
    with pytest.raises(passes.ExportError, match="no frames to export"):
        passes.export_shot(scene, tmp_path, 3, 2)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(passes.ExportError, match="cannot write the shot package"):
        passes.export_shot(scene, blocker / "package", 1, 2)


def test_operator_reports_errors_and_uses_the_preview_range(addon: str, tmp_path: Path) -> None:
    scene = blocking.new_scene("Operator", resolution=(16, 16), frames=(1, 5))
    with pytest.raises(RuntimeError, match="has no camera"):
        bpy.ops.underpaint.export_shot(directory=str(tmp_path / "none"))
    blocking.add_camera(scene, (0.0, -5.0, 0.0), (0.0, 0.0, 0.0))
    blocking.add_sphere(scene, "Ball", 1.0, (0.0, 0.0, 0.0))
    with pytest.raises(RuntimeError, match="no frames to export"):
        bpy.ops.underpaint.export_shot(directory=str(tmp_path / "empty"), frame_start=4, frame_end=2)
    scene.use_preview_range = True
    scene.frame_preview_start, scene.frame_preview_end = 2, 3
    assert bpy.ops.underpaint.export_shot(directory=str(tmp_path / "preview")) == {"FINISHED"}
    shot, _pose = load_package(tmp_path / "preview" / "shot.json")
    assert (shot["frame_start"], shot["frame_end"]) == (2, 3)
    # invoked as from a button: without an event loop it exports at once
    assert bpy.ops.underpaint.export_shot("INVOKE_DEFAULT", directory=str(tmp_path / "given"), frame_start=5,
                                          frame_end=5) == {"FINISHED"}
    assert [frame["frame"] for frame in load_package(tmp_path / "given" / "shot.json")[0]["frames"]] == [5]
    assert math.isclose(shot["fps"], 24.0)
