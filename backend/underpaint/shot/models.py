"""Pydantic models of the shot package, schema `underpaint.shot/1`.

These models are the single source of truth for the package format. The JSON
schema that the Blender add-on validates against (`shot.schema.json`) is
generated from them by `python -m underpaint.shot.schema`.

A shot package is a directory:

    shot.json            this model (`Shot`)
    passes/NNNN.exr      one multilayer float EXR per frame; `Shot.passes` says
                         which EXR channels hold which measurement
    pose.json            `PoseFile`: OpenPose-18 keypoints per frame per armature
    color/NNNN.png       optional rough colour render (8-bit sRGB), for video-to-video

Everything in it is a physical measurement (scene units, camera space), never a
normalised picture: how a measurement becomes a control image is the backend's
business (`underpaint.control`).
"""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

SCHEMA_ID: Final = "underpaint.shot/1"
POSE_SCHEMA_ID: Final = "underpaint.pose/1"

# OpenPose-18 body keypoints (COCO order, as controlnet_aux's draw_bodypose expects).
OPENPOSE_KEYPOINTS: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256 of the file's bytes")]
Matrix4 = Annotated[
    list[Annotated[list[float], Field(min_length=4, max_length=4)]],
    Field(min_length=4, max_length=4, description="4x4 matrix, row-major (Blender's matrix[row][col])"),
]

# Relative POSIX path inside the package: no absolute paths, no '..', no backslashes.
_SAFE_REL_PATH = re.compile(r"^(?!/)(?!.*(^|/)\.\.?(/|$))[A-Za-z0-9_.\-/]+$")


def check_relative_path(value: str) -> str:
    """Refuse names that could escape the package directory (path traversal)."""
    if not _SAFE_REL_PATH.match(value) or "//" in value:
        raise ValueError(f"unsafe path in shot package: {value!r} (relative POSIX paths only, no '..')")
    return value


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PackageFile(_Model):
    """A file of the package and the sha256 of its bytes."""

    path: str = Field(description="relative POSIX path inside the package, e.g. 'passes/0001.exr'")
    sha256: Sha256

    _check_path = field_validator("path")(classmethod(lambda cls, v: check_relative_path(v)))


class Resolution(_Model):
    width: int = Field(gt=0, le=16384)
    height: int = Field(gt=0, le=16384)


class Camera(_Model):
    """The scene camera at one frame, enough to re-project any point."""

    matrix_world: Matrix4
    type: Literal["PERSP", "ORTHO", "PANO"] = "PERSP"
    lens_mm: float = Field(gt=0)
    sensor_width_mm: float = Field(gt=0)
    sensor_height_mm: float = Field(gt=0)
    sensor_fit: Literal["AUTO", "HORIZONTAL", "VERTICAL"] = "AUTO"
    shift_x: float = 0.0
    shift_y: float = 0.0
    ortho_scale: float = Field(default=1.0, gt=0)
    clip_start: float = Field(gt=0)
    clip_end: float = Field(gt=0)

    @model_validator(mode="after")
    def _clip_order(self) -> Camera:
        if self.clip_end <= self.clip_start:
            raise ValueError(f"camera clip_end ({self.clip_end}) must be greater than clip_start ({self.clip_start})")
        return self


class PassChannels(_Model):
    """Where one measurement lives in the per-frame EXR: channel names, in component order."""

    channels: list[str] = Field(min_length=1, max_length=4)


class DepthPass(PassChannels):
    """Planar view-space depth (distance along the camera's view axis) in scene units.

    Pixels that hit nothing hold a value >= `background_threshold` (Cycles writes 1e10).
    """

    channels: list[str] = Field(min_length=1, max_length=1)
    units: Literal["scene"] = "scene"
    background_threshold: float = Field(default=1e9, gt=0)


class NormalPass(PassChannels):
    """Unit normals in Blender camera space: +X right, +Y up, +Z towards the camera.

    A surface facing the camera reads (0, 0, 1). Background pixels read (0, 0, 0).
    """

    channels: list[str] = Field(min_length=3, max_length=3)
    space: Literal["camera"] = "camera"


class ObjectIndexPass(PassChannels):
    """Object pass_index per pixel (0 = background or an object without an index)."""

    channels: list[str] = Field(min_length=1, max_length=1)


class MotionPass(PassChannels):
    """Blender's Vector pass: pixel motion to the previous (X, Y) and next (Z, W) frame."""

    channels: list[str] = Field(min_length=4, max_length=4)


class Passes(_Model):
    """The measurements present in every frame's EXR."""

    depth: DepthPass
    normal: NormalPass | None = None
    object_index: ObjectIndexPass | None = None
    motion: MotionPass | None = None


class SceneObject(_Model):
    """An entry of the object index table: `pass_index` -> object name."""

    index: int = Field(ge=1, le=32767)
    name: str = Field(min_length=1, max_length=256)


class ArmatureInfo(_Model):
    """An armature that drives pose keypoints, and how its bones map to OpenPose joints."""

    name: str = Field(min_length=1, max_length=256)
    rig_type: str = Field(description="'rigify', 'rigify_metarig', 'mixamo', 'left_right', 'custom', ...")
    bone_map: dict[str, str] = Field(
        description="OpenPose keypoint name -> 'bone' (bone head) or 'bone:tail'; unmapped joints are absent"
    )

    @field_validator("bone_map")
    @classmethod
    def _known_keypoints(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(OPENPOSE_KEYPOINTS))
        if unknown:
            raise ValueError(f"unknown OpenPose keypoints in bone_map: {unknown}")
        return value


class Frame(_Model):
    """One frame of the shot: its measurements and the camera that saw them."""

    frame: int = Field(description="Blender frame number")
    passes: PackageFile = Field(description="the multilayer EXR holding this frame's measurements")
    color: PackageFile | None = Field(default=None, description="rough colour render, 8-bit sRGB PNG")
    camera: Camera


class Shot(_Model):
    """`shot.json`: the description of a shot package."""

    schema_id: Literal["underpaint.shot/1"] = Field(default=SCHEMA_ID, alias="schema")
    scene: str = Field(min_length=1, max_length=256)
    shot: str = Field(min_length=1, max_length=256, description="shot name, used in take paths")
    resolution: Resolution
    fps: float = Field(gt=0, le=1000)
    frame_start: int
    frame_end: int
    passes: Passes
    objects: list[SceneObject] = Field(default_factory=list)
    armatures: list[ArmatureInfo] = Field(default_factory=list)
    pose: PackageFile | None = Field(default=None, description="pose.json, when armatures are present")
    frames: list[Frame] = Field(min_length=1)
    blender_version: str | None = None

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _frames_consistent(self) -> Shot:
        if self.frame_end < self.frame_start:
            raise ValueError(f"frame_end ({self.frame_end}) is before frame_start ({self.frame_start})")
        numbers = [f.frame for f in self.frames]
        if numbers != sorted(set(numbers)):
            raise ValueError("frames must be listed once each, in increasing order")
        outside = [n for n in numbers if not self.frame_start <= n <= self.frame_end]
        if outside:
            raise ValueError(f"frames {outside[:5]} lie outside the shot's range {self.frame_start}-{self.frame_end}")
        indices = [o.index for o in self.objects]
        if len(indices) != len(set(indices)):
            raise ValueError("object index table lists an index twice")
        return self

    def files(self) -> list[PackageFile]:
        """Every file the package holds besides shot.json (what a client uploads)."""
        out: list[PackageFile] = []
        for f in self.frames:
            out.append(f.passes)
            if f.color is not None:
                out.append(f.color)
        if self.pose is not None:
            out.append(self.pose)
        return out


class Keypoint(_Model):
    """One OpenPose joint as the camera sees it."""

    x: float = Field(description="normalised image x: 0 = left edge, 1 = right edge")
    y: float = Field(description="normalised image y: 0 = top edge, 1 = bottom edge")
    depth: float = Field(description="planar view depth in scene units (negative = behind the camera)")
    visible: bool
    reason: Literal["visible", "outside_frame", "occluded", "behind_camera", "unmapped"] = "visible"


class ArmaturePose(_Model):
    name: str
    keypoints: list[Keypoint] = Field(min_length=18, max_length=18, description="OPENPOSE_KEYPOINTS order")


class PoseFrame(_Model):
    frame: int
    armatures: list[ArmaturePose] = Field(default_factory=list)


class PoseFile(_Model):
    """`pose.json`: keypoints per frame, per armature, from the rig (never from a detector)."""

    schema_id: Literal["underpaint.pose/1"] = Field(default=POSE_SCHEMA_ID, alias="schema")
    keypoint_names: list[str] = Field(default_factory=lambda: list(OPENPOSE_KEYPOINTS))
    frames: list[PoseFrame]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("keypoint_names")
    @classmethod
    def _openpose_order(cls, value: list[str]) -> list[str]:
        if tuple(value) != OPENPOSE_KEYPOINTS:
            raise ValueError("keypoint_names must be the OpenPose-18 names in COCO order")
        return value
