"""Open a shot package — a directory, or the blobs a client uploaded — and read its measurements.

Everything here treats the package as untrusted input: sizes are checked
before decoding, every file must be listed with its hash, every frame of the
range must be there, and any problem is an `InputError` naming the file and
what is wrong with it. `validate_package` decodes every file once, so a job
accepted by the server does not fail halfway on a corrupt frame.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import OpenEXR
from pydantic import ValidationError

from underpaint.blobs import BlobStore, sha256_file
from underpaint.errors import InputError
from underpaint.images import MAX_PIXELS, read_png

from .models import SCHEMA_ID, Frame, PoseFile, Shot

SHOT_FILE = "shot.json"
MAX_SHOT_JSON_BYTES = 16 << 20
MAX_POSE_JSON_BYTES = 64 << 20


def describe_errors(errors: Sequence[Mapping[str, Any]], limit: int = 5) -> str:
    """Pydantic errors as one readable sentence: 'frames.0.camera.lens_mm: Input should be greater than 0'."""
    parts = []
    for error in errors[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(top level)"
        parts.append(f"{where}: {error['msg']}")
    more = len(errors) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def describe_validation_error(exc: ValidationError) -> str:
    return describe_errors(exc.errors())


def _load_json(data: bytes, label: str) -> Any:
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError("malformed_json", f"{label} is not valid JSON ({exc})") from exc


def parse_shot_json(data: bytes) -> Shot:
    """Parse and validate shot.json bytes: schema id first, then the model, then completeness."""
    raw = _load_json(data, SHOT_FILE)
    if not isinstance(raw, dict):
        raise InputError("invalid_shot", f"{SHOT_FILE} must be a JSON object")
    schema = raw.get("schema")
    if schema != SCHEMA_ID:
        raise InputError(
            "unknown_schema",
            f"{SHOT_FILE} has schema {schema!r}; this server reads {SCHEMA_ID!r} (update the add-on or the server)",
        )
    try:
        shot = Shot.model_validate(raw)
    except ValidationError as exc:
        raise InputError("invalid_shot", f"{SHOT_FILE} is invalid: {describe_validation_error(exc)}") from exc
    _check_complete(shot)
    return shot


def _check_complete(shot: Shot) -> None:
    pixels = shot.resolution.width * shot.resolution.height
    if pixels > MAX_PIXELS:
        raise InputError(
            "image_too_large",
            f"shot resolution {shot.resolution.width}x{shot.resolution.height} exceeds the server's limit of "
            f"{MAX_PIXELS} pixels per frame",
            413,
        )
    present = {f.frame for f in shot.frames}
    absent = [n for n in range(shot.frame_start, shot.frame_end + 1) if n not in present]
    if absent:
        raise InputError(
            "missing_frames",
            f"{SHOT_FILE} covers frames {shot.frame_start}-{shot.frame_end} but lists no data for "
            f"{len(absent)} of them (first: {absent[:5]})",
        )
    paths = [f.path for f in shot.files()]
    if len(paths) != len(set(paths)):
        raise InputError("invalid_shot", f"{SHOT_FILE} lists the same file path twice")


def parse_pose_json(data: bytes) -> PoseFile:
    raw = _load_json(data, "pose.json")
    try:
        return PoseFile.model_validate(raw)
    except ValidationError as exc:
        raise InputError("invalid_pose", f"pose.json is invalid: {describe_validation_error(exc)}") from exc


@dataclass(frozen=True)
class FramePasses:
    """One frame's measurements at the shot's resolution (row 0 = top of the image)."""

    depth: np.ndarray  # float32 (H, W), planar view depth in scene units
    normal: np.ndarray | None  # float32 (H, W, 3), camera space
    object_index: np.ndarray | None  # int32 (H, W), 0 = background
    motion: np.ndarray | None  # float32 (H, W, 4)


def _window_size(window: Any) -> tuple[int, int]:
    lo, hi = window
    return int(hi[0] - lo[0] + 1), int(hi[1] - lo[1] + 1)


def read_exr_channels(path: Path, names: list[str], size: tuple[int, int], label: str) -> dict[str, np.ndarray]:
    """Named channels of an EXR as float32 arrays, after checking the header's size (no bomb decoding)."""
    try:
        # Blender 5 writes one part per pass: every part's header counts, not just the first.
        headers = [part.header for part in OpenEXR.File(str(path), header_only=True).parts]
        windows = {_window_size(h["dataWindow"]) for h in headers}
        declared = {c.name for h in headers for c in h["channels"]}
    except Exception as exc:  # the OpenEXR binding raises RuntimeError, ValueError, TypeError...
        raise InputError("corrupt_file", f"{label} is not a readable EXR ({exc})") from exc
    for width, height in windows:
        if width * height > MAX_PIXELS:
            raise InputError("image_too_large", f"{label}: {width}x{height} exceeds {MAX_PIXELS} pixels", 413)
        if (width, height) != size:
            raise InputError("resolution_mismatch", f"{label} is {width}x{height}, the shot is {size[0]}x{size[1]}")
    width, height = size
    absent = [name for name in names if name not in declared]
    if absent:
        raise InputError("missing_channel", f"{label} has no channel {absent[0]!r} (it has: {sorted(declared)[:12]})")
    try:
        channels: dict[str, Any] = {}
        for part in OpenEXR.File(str(path), separate_channels=True).parts:
            for name, channel in part.channels.items():
                channels.setdefault(name, channel)
        # The binding only warns when pixel data is damaged and hands back fewer channels: count them.
        lost = [name for name in names if name not in channels]
        if lost:
            raise ValueError(f"channel {lost[0]!r} could not be read")
        return {name: np.asarray(channels[name].pixels, dtype=np.float32).reshape(height, width) for name in names}
    except Exception as exc:
        raise InputError("corrupt_file", f"{label}: pixel data cannot be decoded ({exc})") from exc


@dataclass(frozen=True)
class ShotPackage:
    """A validated shot.json plus where each of its files can be read."""

    shot: Shot
    files: Mapping[str, Path]  # package-relative path -> readable file
    sha256: str | None = None  # sha256 of the shot.json bytes, when known

    @property
    def size(self) -> tuple[int, int]:
        return self.shot.resolution.width, self.shot.resolution.height

    @property
    def frame_numbers(self) -> list[int]:
        return [f.frame for f in self.shot.frames]

    def frame(self, number: int) -> Frame:
        for f in self.shot.frames:
            if f.frame == number:
                return f
        raise InputError(
            "frame_out_of_range", f"frame {number} is not in shot {self.shot.shot!r} "
            f"({self.shot.frame_start}-{self.shot.frame_end})"
        )

    def read_depth(self, number: int) -> np.ndarray:
        frame = self.frame(number)
        name = self.shot.passes.depth.channels[0]
        return read_exr_channels(self.files[frame.passes.path], [name], self.size, frame.passes.path)[name]

    def read_passes(self, number: int) -> FramePasses:
        frame = self.frame(number)
        passes = self.shot.passes
        wanted = [("depth", passes.depth), ("normal", passes.normal),
                  ("object_index", passes.object_index), ("motion", passes.motion)]
        names = [c for _, p in wanted if p is not None for c in p.channels]
        data = read_exr_channels(self.files[frame.passes.path], names, self.size, frame.passes.path)

        def stack(pass_: Any) -> np.ndarray | None:
            if pass_ is None:
                return None
            return np.stack([data[c] for c in pass_.channels], axis=-1)

        object_index = None
        if passes.object_index is not None:
            object_index = np.rint(data[passes.object_index.channels[0]]).astype(np.int32)
        return FramePasses(
            depth=data[passes.depth.channels[0]],
            normal=stack(passes.normal),
            object_index=object_index,
            motion=stack(passes.motion),
        )

    def has_color(self) -> bool:
        return all(f.color is not None for f in self.shot.frames)

    def read_color(self, number: int) -> np.ndarray:
        frame = self.frame(number)
        if frame.color is None:
            raise InputError("missing_color", f"frame {number} of shot {self.shot.shot!r} has no colour render")
        return read_png(self.files[frame.color.path], "RGB", self.size, frame.color.path)

    def read_pose(self) -> PoseFile | None:
        if self.shot.pose is None:
            return None
        path = self.files[self.shot.pose.path]
        if path.stat().st_size > MAX_POSE_JSON_BYTES:
            raise InputError("too_large", f"pose.json is larger than {MAX_POSE_JSON_BYTES} bytes", 413)
        return parse_pose_json(path.read_bytes())


def load_package(directory: Path, verify_hashes: bool = True) -> ShotPackage:
    """Open a package directory as the add-on wrote it; with `verify_hashes`, check every file's sha256."""
    directory = Path(directory)
    shot_path = directory / SHOT_FILE
    if not directory.is_dir():
        what = "is a file, not a folder" if directory.exists() else "does not exist"
        raise InputError("missing_files", f"the shot package {directory} {what}")
    if not shot_path.is_file():
        raise InputError("missing_files", f"{directory} holds no {SHOT_FILE}; is it a shot package?")
    if shot_path.stat().st_size > MAX_SHOT_JSON_BYTES:
        raise InputError("too_large", f"{SHOT_FILE} is larger than {MAX_SHOT_JSON_BYTES} bytes", 413)
    data = shot_path.read_bytes()
    shot = parse_shot_json(data)
    files = {f.path: directory / f.path for f in shot.files()}
    absent = [p for p, path in files.items() if not path.is_file()]
    if absent:
        raise InputError("missing_files", f"{len(absent)} files listed in {SHOT_FILE} are missing: {absent[:5]}")
    if verify_hashes:
        for f in shot.files():
            actual = sha256_file(files[f.path])
            if actual != f.sha256:
                raise InputError("hash_mismatch", f"{f.path} has sha256 {actual}, {SHOT_FILE} says {f.sha256}")
    return ShotPackage(shot=shot, files=files, sha256=sha256_file(shot_path))


def assemble_package(shot_sha256: str, blobs: BlobStore) -> ShotPackage:
    """The package whose shot.json is blob `shot_sha256`, its files read from the blob store.

    Blobs were hash-checked on upload, so only presence is checked here.
    """
    if not blobs.has(shot_sha256):
        raise InputError("missing_blobs", f"no shot.json blob {shot_sha256} on the server; upload the shot first")
    shot = parse_shot_json(blobs.read(shot_sha256, MAX_SHOT_JSON_BYTES))
    listed = shot.files()
    absent = [f for f in listed if not blobs.has(f.sha256)]
    if absent:
        names = ", ".join(f"{f.path} ({f.sha256[:12]})" for f in absent[:5])
        raise InputError(
            "missing_blobs", f"{len(absent)} of the shot's {len(listed)} files are not uploaded yet: {names}"
        )
    return ShotPackage(shot=shot, files={f.path: blobs.path(f.sha256) for f in listed}, sha256=shot_sha256)


def validate_package(package: ShotPackage) -> None:
    """Decode every file of the package once; raise `InputError` for the first bad one."""
    for number in package.frame_numbers:
        package.read_passes(number)
        if package.frame(number).color is not None:
            package.read_color(number)
    pose = package.read_pose()
    if pose is not None:
        known = set(package.frame_numbers)
        outside = [p.frame for p in pose.frames if p.frame not in known]
        if outside:
            raise InputError("frame_out_of_range", f"pose.json has frames outside the shot: {outside[:5]}")
