"""Synthetic shot packages for backend tests and benchmarks (no Blender needed).

    from shots import write_shot
    package_dir = write_shot(tmp_path / "shot", frames=8, width=64, height=48, pose=True)

The scene is analytic, so tests can reason about it: a far wall (depth 10,
facing the camera, object "Wall", index 3) fills the upper part; a ball
(object "Ball", index 1, radius 0.25 of the height) rolls from left to right
at depth 3..4 with exact sphere normals; a box (object "Box", index 2, depth
6) stands still in the lower right; the bottom rows are empty background
(depth 1e10, zero normal, index 0). Files are written exactly as the add-on
writes them: one multilayer EXR per frame with Blender's channel names,
optional colour PNGs, optional pose.json, and shot.json with every sha256.
Writing is deterministic: rewriting a package with `changed={...}` alters
only those frames' files, so upload tests can count what is re-sent.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Collection
from pathlib import Path

import numpy as np
import OpenEXR
from PIL import Image

from underpaint.blobs import BlobStore
from underpaint.shot.models import OPENPOSE_KEYPOINTS, SCHEMA_ID

LAYER = "ViewLayer"
DEPTH = f"{LAYER}.Depth.Z"
NORMAL = [f"{LAYER}.Normal.{c}" for c in "XYZ"]
INDEX = f"{LAYER}.IndexOB.X"
VECTOR = [f"{LAYER}.Vector.{c}" for c in "XYZW"]
BACKGROUND_DEPTH = 1e10
OBJECTS = {"Ball": 1, "Box": 2, "Wall": 3}
WALL_DEPTH, BOX_DEPTH = 10.0, 6.0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def scene_frame(index: int, count: int, width: int, height: int, changed: bool = False) -> dict[str, np.ndarray]:
    """Depth, normal and object index of frame `index` of `count` (0-based)."""
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    depth = np.full((height, width), BACKGROUND_DEPTH, np.float32)
    normal = np.zeros((height, width, 3), np.float32)
    obj = np.zeros((height, width), np.float32)
    wall = ys < 0.8 * height
    depth[wall], normal[wall], obj[wall] = WALL_DEPTH, (0.0, 0.0, 1.0), OBJECTS["Wall"]
    box = (xs > 0.7 * width) & (ys > 0.55 * height) & (ys < 0.8 * height)
    depth[box], normal[box], obj[box] = BOX_DEPTH, (0.0, 0.0, 1.0), OBJECTS["Box"]
    t = index / max(count - 1, 1)
    radius = 0.25 * height
    cx = (0.2 + 0.6 * t) * width + (0.1 * width if changed else 0.0)
    cy = 0.45 * height
    dx, dy = (xs - cx) / radius, (cy - ys) / radius  # +y up, as in Blender camera space
    inside = dx * dx + dy * dy < 1.0
    nz = np.sqrt(np.clip(1.0 - dx * dx - dy * dy, 0.0, 1.0))
    centre_depth = 3.0 + t
    depth[inside] = centre_depth - nz[inside] * 0.5
    normal[inside] = np.stack([dx, dy, nz], axis=-1)[inside]
    obj[inside] = OBJECTS["Ball"]
    # Blender's Vector pass, in pixels with y up: X, Y = here - previous frame, Z, W = next frame - here.
    motion = np.zeros((height, width, 4), np.float32)
    motion[inside] = (ball_step(count, width), 0.0, ball_step(count, width), 0.0)
    return {"depth": depth, "normal": normal, "object_index": obj, "motion": motion}


def ball_step(count: int, width: int) -> float:
    """How many pixels the ball rolls to the right from one frame to the next."""
    return 0.6 * width / max(count - 1, 1)


def _write_exr(path: Path, data: dict[str, np.ndarray], motion: bool = False) -> None:
    """One part per pass, the way Blender 5 writes multilayer EXRs."""
    passes = {
        "Depth": {DEPTH: data["depth"]},
        "IndexOB": {INDEX: data["object_index"]},
        "Normal": {name: data["normal"][..., i].astype(np.float16) for i, name in enumerate(NORMAL)},
    }
    if motion:
        passes["Vector"] = {name: np.ascontiguousarray(data["motion"][..., i]) for i, name in enumerate(VECTOR)}
    parts = [
        OpenEXR.Part(
            {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage, "name": f"{LAYER}.{name}"},
            channels,
        )
        for name, channels in passes.items()
    ]
    OpenEXR.File(parts).write(str(path))


def _write_color(path: Path, data: dict[str, np.ndarray]) -> None:
    palette = np.array([[40, 40, 40], [200, 60, 50], [60, 160, 70], [180, 180, 200]], np.uint8)
    Image.fromarray(palette[data["object_index"].astype(np.int64)], "RGB").save(path, compress_level=1)


def stick_figure(index: int, count: int) -> list[dict[str, object]]:
    """18 OpenPose keypoints of a figure walking left to right; the left ear is hidden (occluded)."""
    t = index / max(count - 1, 1)
    x0, swing = 0.3 + 0.4 * t, 0.03 * np.sin(2 * np.pi * t)
    layout = {
        "nose": (0.0, 0.15), "neck": (0.0, 0.25),
        "right_shoulder": (-0.06, 0.26), "right_elbow": (-0.09, 0.38), "right_wrist": (-0.1 + swing, 0.48),
        "left_shoulder": (0.06, 0.26), "left_elbow": (0.09, 0.38), "left_wrist": (0.1 - swing, 0.48),
        "right_hip": (-0.04, 0.5), "right_knee": (-0.05 + swing, 0.65), "right_ankle": (-0.05 + swing, 0.8),
        "left_hip": (0.04, 0.5), "left_knee": (0.05 - swing, 0.65), "left_ankle": (0.05 - swing, 0.8),
        "right_eye": (-0.015, 0.13), "left_eye": (0.015, 0.13), "right_ear": (-0.03, 0.14),
        "left_ear": (0.03, 0.14),
    }
    points = []
    for name in OPENPOSE_KEYPOINTS:
        dx, y = layout[name]
        hidden = name == "left_ear"
        points.append({"x": float(x0 + dx), "y": float(y), "depth": 4.0, "visible": not hidden,
                       "reason": "occluded" if hidden else "visible"})
    return points


def _camera() -> dict[str, object]:
    return {
        "matrix_world": [[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, -1.0, -8.0], [0.0, 1.0, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]],
        "type": "PERSP", "lens_mm": 50.0, "sensor_width_mm": 36.0, "sensor_height_mm": 24.0,
        "sensor_fit": "AUTO", "clip_start": 0.1, "clip_end": 100.0,
    }


def write_shot(
    directory: Path,
    frames: int = 4,
    width: int = 64,
    height: int = 48,
    *,
    frame_start: int = 1,
    name: str = "sh010",
    color: bool = False,
    pose: bool = False,
    motion: bool = False,
    changed: Collection[int] = (),
) -> Path:
    """Write a shot package into `directory` and return it.

    `changed` lists Blender frame numbers whose content differs (the ball is
    shifted), to simulate an artist re-exporting a few frames. `motion` adds
    the Vector pass (the ball rolls `ball_step` pixels per frame).
    """
    directory = Path(directory)
    (directory / "passes").mkdir(parents=True, exist_ok=True)
    if color:
        (directory / "color").mkdir(exist_ok=True)
    frame_records = []
    for i in range(frames):
        number = frame_start + i
        data = scene_frame(i, frames, width, height, changed=number in changed)
        exr = directory / "passes" / f"{number:04d}.exr"
        _write_exr(exr, data, motion)
        record: dict[str, object] = {
            "frame": number, "passes": {"path": f"passes/{number:04d}.exr", "sha256": _sha(exr)},
            "camera": _camera(),
        }
        if color:
            png = directory / "color" / f"{number:04d}.png"
            _write_color(png, data)
            record["color"] = {"path": f"color/{number:04d}.png", "sha256": _sha(png)}
        frame_records.append(record)
    shot: dict[str, object] = {
        "schema": SCHEMA_ID, "scene": "Scene", "shot": name,
        "resolution": {"width": width, "height": height}, "fps": 24.0,
        "frame_start": frame_start, "frame_end": frame_start + frames - 1,
        "passes": {
            "depth": {"channels": [DEPTH], "units": "scene", "background_threshold": 1e9},
            "normal": {"channels": NORMAL, "space": "camera"},
            "object_index": {"channels": [INDEX]},
            **({"motion": {"channels": VECTOR}} if motion else {}),
        },
        "objects": [{"index": index, "name": obj} for obj, index in OBJECTS.items()],
        "frames": frame_records,
        "blender_version": "5.0.1",
    }
    if pose:
        pose_doc = {
            "schema": "underpaint.pose/1",
            "keypoint_names": list(OPENPOSE_KEYPOINTS),
            "frames": [
                {"frame": frame_start + i, "armatures": [{"name": "Rig", "keypoints": stick_figure(i, frames)}]}
                for i in range(frames)
            ],
        }
        pose_path = directory / "pose.json"
        pose_path.write_text(json.dumps(pose_doc))
        shot["armatures"] = [{"name": "Rig", "rig_type": "custom", "bone_map": {k: k for k in OPENPOSE_KEYPOINTS}}]
        shot["pose"] = {"path": "pose.json", "sha256": _sha(pose_path)}
    (directory / "shot.json").write_text(json.dumps(shot, indent=1))
    return directory


def rewrite_shot_json(directory: Path, edit: dict[str, object]) -> Path:
    """Apply top-level `edit` to shot.json (tests of bad packages) and return the package."""
    path = Path(directory) / "shot.json"
    shot = json.loads(path.read_text())
    shot.update(edit)
    path.write_text(json.dumps(shot))
    return Path(directory)


def store_in_blobs(directory: Path, blobs: BlobStore) -> str:
    """Put every file of a package and its shot.json into a blob store (as an upload would); return the shot id."""
    directory = Path(directory)
    shot = json.loads((directory / "shot.json").read_text())
    paths = [f["passes"]["path"] for f in shot["frames"]] + [f["color"]["path"] for f in shot["frames"] if "color" in f]
    if "pose" in shot:
        paths.append(shot["pose"]["path"])
    for path in paths:
        blobs.put((directory / path).read_bytes())
    return blobs.put((directory / "shot.json").read_bytes()).sha256
