"""Pose keypoints from armatures: rig conventions found by bone names, projection, visibility, overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy
import numpy as np
import pytest
from bpy_extras.object_utils import world_to_camera_view
from test_passes import load_package, passes_module

from demo import blocking

# naming in demo/blocking.py -> (rig_type the add-on should find, has eyes, has ears)
STYLES = {
    "rigify": ("rigify", True, True),
    "rigify_metarig": ("rigify_metarig", True, True),
    "mixamo": ("mixamo", True, False),
    "suffix_lr": ("left_right", False, False),
    "left_right": ("left_right", True, False),
}
# OpenPose joint -> the skeleton role at that joint (the bone whose head it is)
JOINT_ROLES = {
    "right_shoulder": "upper_arm.R", "right_elbow": "forearm.R", "right_wrist": "hand.R",
    "left_shoulder": "upper_arm.L", "left_elbow": "forearm.L", "left_wrist": "hand.L",
    "right_hip": "thigh.R", "right_knee": "shin.R", "right_ankle": "foot.R",
    "left_hip": "thigh.L", "left_knee": "shin.L", "left_ankle": "foot.L",
}


@pytest.fixture(scope="module")
def rigs(addon: str) -> dict[str, bpy.types.Object]:
    """One armature per naming convention, keyed by the convention."""
    scene = blocking.new_scene("Rigs", resolution=(32, 32), frames=(1, 1))
    return {naming: blocking.add_character(scene, f"Rig_{naming}", naming, (2.0 * i, 0.0, 0.0), body=False)
            for i, naming in enumerate(STYLES)}


@pytest.mark.parametrize("naming", list(STYLES))
def test_rig_convention_is_detected_from_bone_names(addon: str, rigs: dict, naming: str) -> None:
    armature = rigs[naming]
    rig = passes_module(addon, "pose").armature_rig(armature)
    rig_type, has_eyes, has_ears = STYLES[naming]
    assert rig is not None and rig.rig_type == rig_type
    roles = armature["blocking_roles"]
    for joint, role in JOINT_ROLES.items():
        assert rig.bone_map[joint] == roles[role], joint
    assert armature.data.bones[rig.bone_map["neck"]].head_local.z == pytest.approx(1.45)  # the neck's base
    assert ("right_eye" in rig.bone_map and "left_eye" in rig.bone_map) == has_eyes
    assert ("right_ear" in rig.bone_map and "left_ear" in rig.bone_map) == has_ears
    assert "nose" in rig.bone_map


def test_an_armature_that_is_not_a_body_gets_no_pose(addon: str) -> None:
    scene = blocking.new_scene("Chain", resolution=(32, 32), frames=(1, 1))
    tail = blocking.add_bone_chain(scene, "Tail", ["tail.001", "tail.002", "tail.003"])
    assert passes_module(addon, "pose").armature_rig(tail) is None


@pytest.mark.parametrize(("name", "canonical"), [
    ("upper_arm.L", "L:upperarm"), ("upperarm_r", "R:upperarm"), ("LeftUpperArm", "L:upperarm"),
    ("Right_Hand", "R:hand"), ("L_foot", "L:foot"), ("calf-R", "R:calf"), ("Neck_01", "neck01"),
    ("upper_arm.L.001", "upperarml001"), ("Leg", "leg"),
])
def test_side_naming_is_understood(addon: str, name: str, canonical: str) -> None:
    assert passes_module(addon, "bone_maps").canonical_name(name) == canonical


def test_joint_overrides_replace_remove_and_refuse_unknown_bones(addon: str, rigs: dict) -> None:
    pose = passes_module(addon, "pose")
    armature = rigs["mixamo"]
    overrides = armature.underpaint_pose.joints
    try:
        nose = overrides.add()
        nose.joint, nose.bone, nose.use_tail = "nose", "mixamorig:Head", True
        neck = overrides.add()
        neck.joint, neck.bone = "neck", ""
        rig = pose.armature_rig(armature)
        assert rig.rig_type == "custom"
        assert rig.bone_map["nose"] == "mixamorig:Head:tail"
        assert "neck" not in rig.bone_map
        assert rig.bone_map["right_wrist"] == "mixamorig:RightHand"  # the rest still found automatically
        neck.bone = "mixamorig:NoSuchBone"
        with pytest.raises(passes_module(addon).ExportError, match="NoSuchBone"):
            pose.armature_rig(armature)
    finally:
        overrides.clear()


# --- keypoints through the camera --------------------------------------------------------------------------


@dataclass(frozen=True)
class WalkShot:
    scene: bpy.types.Scene
    shot: dict[str, Any]
    pose: dict[str, Any]
    names: dict[str, str]  # our name for each armature -> the name Blender gave it

    def keypoints(self, frame_index: int, armature: str) -> dict[str, dict[str, Any]]:
        entry = next(a for a in self.pose["frames"][frame_index]["armatures"] if a["name"] == self.names[armature])
        return dict(zip(self.pose["keypoint_names"], entry["keypoints"], strict=True))


@pytest.fixture(scope="module")
def walk_shot(addon: str, tmp_path_factory: pytest.TempPathFactory) -> WalkShot:
    """Two walkers (Rigify with a body, Mixamo with its legs behind a wall), one rig off to the side of the
    frame and one behind the camera, while the camera moves."""
    scene = blocking.new_scene("Walk", resolution=(96, 64), frames=(1, 3))
    camera = blocking.add_camera(scene, (0.0, -7.0, 1.2), (0.0, 0.0, 1.0), lens=35.0)
    blocking.keyframe_path(camera, {1: (0.0, -7.0, 1.2), 3: (0.5, -6.5, 1.3)})
    hero = blocking.add_character(scene, "Hero", "rigify", (-1.5, 0.0, 0.0), facing=math.radians(90.0))
    blocking.walk(hero, (1, 3), 1.5)
    extra = blocking.add_character(scene, "Extra", "mixamo", (1.2, 0.0, 0.0), facing=math.radians(20.0))
    blocking.walk(extra, (1, 3), 0.3)
    blocking.add_box(scene, "Wall", (1.6, 0.1, 0.8), (1.2, -1.0, 0.4))
    offside = blocking.add_character(scene, "Offside", "left_right", (30.0, 0.0, 0.0), body=False)
    behind = blocking.add_character(scene, "Behind", "suffix_lr", (0.0, -12.0, 0.0), body=False)
    passes = passes_module(addon)
    shot_json = passes.export_shot(scene, tmp_path_factory.mktemp("walk"), 1, 3,
                                   passes.ExportOptions(motion=False))
    shot, pose = load_package(shot_json)
    names = {"Hero": hero.name, "Extra": extra.name, "Offside": offside.name, "Behind": behind.name}
    return WalkShot(scene, shot, pose, names)


def test_keypoints_match_an_independent_projection(walk_shot: WalkShot) -> None:
    scene, shot, pose = walk_shot.scene, walk_shot.shot, walk_shot.pose
    width, height = shot["resolution"]["width"], shot["resolution"]["height"]
    checked = 0
    for index, frame in enumerate(shot["frames"]):
        scene.frame_set(frame["frame"])
        depsgraph = scene.view_layers[0].depsgraph
        camera = scene.camera.evaluated_get(depsgraph)
        for info in shot["armatures"]:
            armature = scene.objects[info["name"]].evaluated_get(depsgraph)
            keypoints = dict(zip(pose["keypoint_names"], next(
                a["keypoints"] for a in pose["frames"][index]["armatures"] if a["name"] == info["name"]), strict=True))
            for joint, reference in info["bone_map"].items():
                bone, _, end = reference.rpartition(":") if reference.endswith(":tail") else (reference, "", "")
                pose_bone = armature.pose.bones[bone]
                world = armature.matrix_world @ (pose_bone.tail if end else pose_bone.head)
                expected = world_to_camera_view(scene, camera, world)
                point = keypoints[joint]
                if point["reason"] == "behind_camera":
                    assert expected.z < 0
                    continue
                assert abs(point["x"] - expected.x) * width <= 1.0, (info["name"], joint)
                assert abs(point["y"] - (1.0 - expected.y)) * height <= 1.0, (info["name"], joint)
                assert point["depth"] == pytest.approx(expected.z, abs=1e-4)
                checked += 1
    assert checked > 100


def test_hidden_joints_are_occluded_and_the_rest_visible(walk_shot: WalkShot) -> None:
    for index in range(3):
        extra = walk_shot.keypoints(index, "Extra")
        for joint in ("right_knee", "left_knee", "right_ankle", "left_ankle"):
            assert extra[joint]["reason"] == "occluded" and not extra[joint]["visible"], (index, joint)
        for joint in ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip", "nose"):
            assert extra[joint]["visible"], (index, joint)
        # the Hero's joints sit inside its own box body: that does not hide them
        hero = walk_shot.keypoints(index, "Hero")
        assert all(point["visible"] for point in hero.values()), index


def test_out_of_frame_behind_camera_and_unmapped_joints(walk_shot: WalkShot) -> None:
    offside = walk_shot.keypoints(0, "Offside")
    assert {point["reason"] for name, point in offside.items() if not name.endswith("_ear")} == {"outside_frame"}
    behind = walk_shot.keypoints(0, "Behind")
    assert {point["reason"] for name, point in behind.items() if "eye" not in name and "ear" not in name} \
        == {"behind_camera"}
    assert all(point["depth"] < 0 for point in behind.values() if point["reason"] == "behind_camera")
    extra = walk_shot.keypoints(0, "Extra")
    assert extra["right_ear"] == {"x": 0.0, "y": 0.0, "depth": 0.0, "visible": False, "reason": "unmapped"}


def test_armatures_and_bone_maps_are_recorded(walk_shot: WalkShot) -> None:
    recorded = {info["name"]: info["rig_type"] for info in walk_shot.shot["armatures"]}
    expected = {"Behind": "left_right", "Extra": "mixamo", "Hero": "rigify", "Offside": "left_right"}
    assert recorded == {walk_shot.names[name]: rig_type for name, rig_type in expected.items()}
    assert [frame["frame"] for frame in walk_shot.pose["frames"]] == [1, 2, 3]
    assert walk_shot.shot["pose"]["path"] == "pose.json"


def test_exported_keypoints_move_with_the_walk(walk_shot: WalkShot) -> None:
    first, last = walk_shot.keypoints(0, "Hero"), walk_shot.keypoints(2, "Hero")
    assert last["neck"]["x"] > first["neck"]["x"]  # walking to the right of the frame
    assert np.hypot(last["right_ankle"]["x"] - first["right_ankle"]["x"],
                    last["right_ankle"]["y"] - first["right_ankle"]["y"]) > 0.01


def test_no_pose_file_without_armatures(addon: str, tmp_path: Path) -> None:
    scene = blocking.new_scene("NoRigs", resolution=(16, 16), frames=(1, 1))
    blocking.add_camera(scene, (0.0, -5.0, 0.0), (0.0, 0.0, 0.0))
    blocking.add_box(scene, "Box", (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    passes = passes_module(addon)
    shot, pose = load_package(passes.export_shot(scene, tmp_path, 1, 1, passes.ExportOptions()))
    assert pose is None and shot["armatures"] == [] and "pose" not in shot
    assert not (tmp_path / "pose.json").exists()


def test_demo_scene_exports_a_valid_package(addon: str, tmp_path: Path) -> None:
    """The demo shot (Rigify and Mixamo walkers, moving props, camera push-in) exports with colour, small."""
    scene = blocking.build_demo_scene("DemoSmall", resolution=(64, 36), frames=(1, 3))
    passes = passes_module(addon)
    shot, pose = load_package(passes.export_shot(scene, tmp_path, 1, 3, passes.ExportOptions(color=True)))
    assert sorted(info["rig_type"] for info in shot["armatures"]) == ["mixamo", "rigify"]
    assert len(pose["frames"]) == 3 and all(len(frame["armatures"]) == 2 for frame in pose["frames"])
    assert {"Floor", "Backdrop", "Cube", "Sphere"} <= {entry["name"].split(".")[0] for entry in shot["objects"]}


def test_joint_override_panel_list_and_operators(addon: str, rigs: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The Shot Export panel names the rig found, lists the overrides, and its buttons add and remove them."""
    from test_stylize_panel import RecordingLayout, draw

    armature = rigs["mixamo"]
    context = SimpleNamespace(scene=bpy.context.scene, object=armature)
    drawn = draw(bpy.types.UNDERPAINT_PT_export, context)
    assert ("operator", "underpaint.export_shot") in drawn
    assert ("label", "Pose: mixamo, 16 of 18 joints") in drawn
    assert ("list", "joints") in drawn
    with bpy.context.temp_override(object=armature, active_object=armature):
        assert bpy.ops.underpaint.joint_override_add() == {"FINISHED"}
        pose_map = armature.underpaint_pose
        pose_map.joints[0].joint, pose_map.joints[0].bone = "right_ear", "mixamorig:Head"
        assert ("label", "Pose: custom, 17 of 18 joints") in draw(bpy.types.UNDERPAINT_PT_export, context)

        def prop_search(self: RecordingLayout, data: Any, name: str, search_data: Any, search_name: str,
                        **_kw: Any) -> None:
            assert name in data.bl_rna.properties and search_name in search_data.bl_rna.properties
            self.record.append(("prop_search", name))

        monkeypatch.setattr(RecordingLayout, "prop_search", prop_search, raising=False)
        row = RecordingLayout()
        bpy.types.UNDERPAINT_UL_joint_overrides.draw_item(
            SimpleNamespace(), context, row, pose_map, pose_map.joints[0], 0, pose_map, "active_joint", 0, 0)
        assert row.record == [("prop", "joint"), ("prop_search", "bone"), ("prop", "use_tail")]
        pose_map.joints[0].bone = "mixamorig:Missing"
        assert any(kind == "label" and "Missing" in text
                   for kind, text in draw(bpy.types.UNDERPAINT_PT_export, context))
        assert bpy.ops.underpaint.joint_override_remove() == {"FINISHED"}
        assert len(pose_map.joints) == 0
    not_armature = SimpleNamespace(scene=bpy.context.scene, object=None)
    assert ("label", "Select an armature to check its pose joints") in draw(bpy.types.UNDERPAINT_PT_export,
                                                                              not_armature)
