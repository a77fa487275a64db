"""shot.json and pose.json records, one function per record of `backend/underpaint/shot/models.py`.

These build plain dicts from what the export measured; `writer` puts them on
disk. Field for field they mirror the pydantic models (the tests validate
the result against the checked-in JSON schema).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import bpy

from .. import compat
from .bone_maps import OPENPOSE_KEYPOINTS, RigMap
from .options import ExportError
from .render_setup import NORMAL_AOV

SCHEMA_ID = "underpaint.shot/1"
POSE_SCHEMA_ID = "underpaint.pose/1"
# Cycles writes 1e10 into the depth of pixels that hit nothing.
BACKGROUND_DEPTH_THRESHOLD = 1e9


def gather_passes(written: Sequence[str], view_layer: str, motion: bool) -> dict[str, Any]:
    """The `Passes` record: the EXR channels holding each measurement, as Blender really named them."""
    index_pass = next((name for name in compat.OBJECT_INDEX_PASS_NAMES if f"{view_layer}.{name}.X" in written),
                      compat.OBJECT_INDEX_PASS_NAMES[0])
    records = {
        "depth": {"channels": [f"{view_layer}.Depth.Z"], "units": "scene",
                  "background_threshold": BACKGROUND_DEPTH_THRESHOLD},
        "normal": {"channels": [f"{view_layer}.{NORMAL_AOV}.{c}" for c in "RGB"], "space": "camera"},
        "object_index": {"channels": [f"{view_layer}.{index_pass}.X"]},
    }
    if motion:
        records["motion"] = {"channels": [f"{view_layer}.Vector.{c}" for c in "XYZW"]}
    missing = [name for record in records.values() for name in record["channels"] if name not in written]
    if missing:
        raise ExportError(f"the data render has no channel {missing[0]!r} (it wrote: {', '.join(written)})")
    return records


def gather_objects(table: Mapping[int, bpy.types.Object]) -> list[dict[str, Any]]:
    """The object index table (`SceneObject` records)."""
    return [{"index": index, "name": obj.name} for index, obj in sorted(table.items())]


def gather_armature(name: str, rig: RigMap) -> dict[str, Any]:
    """An `ArmatureInfo` record: the rig convention found and the bones used for each joint."""
    return {"name": name, "rig_type": rig.rig_type, "bone_map": dict(rig.bone_map)}


def gather_frame(
    frame: int, passes: dict[str, str], camera: dict[str, Any], color: dict[str, str] | None
) -> dict[str, Any]:
    """A `Frame` record: the frame's files and its camera."""
    record: dict[str, Any] = {"frame": frame, "passes": passes, "camera": camera}
    if color is not None:
        record["color"] = color
    return record


def gather_shot(
    scene: bpy.types.Scene, name: str, size: tuple[int, int], frame_range: tuple[int, int], *,
    passes: dict[str, Any], objects: list[dict[str, Any]], armatures: list[dict[str, Any]],
    pose: dict[str, str] | None, frames: list[dict[str, Any]],
) -> dict[str, Any]:
    """The `Shot` record (shot.json)."""
    shot: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "scene": scene.name,
        "shot": name,
        "resolution": {"width": size[0], "height": size[1]},
        "fps": scene.render.fps / scene.render.fps_base,
        "frame_start": frame_range[0],
        "frame_end": frame_range[1],
        "passes": passes,
        "objects": objects,
        "armatures": armatures,
        "frames": frames,
        "blender_version": bpy.app.version_string,
    }
    if pose is not None:
        shot["pose"] = pose
    return shot


def gather_pose_frame(frame: int, armatures: list[dict[str, Any]]) -> dict[str, Any]:
    """A `PoseFrame` record: every armature's keypoints at one frame."""
    return {"frame": frame, "armatures": armatures}


def gather_pose_file(frames: list[dict[str, Any]]) -> dict[str, Any]:
    """The `PoseFile` record (pose.json)."""
    return {"schema": POSE_SCHEMA_ID, "keypoint_names": list(OPENPOSE_KEYPOINTS), "frames": frames}
