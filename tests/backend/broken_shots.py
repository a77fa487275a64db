"""A corpus of broken shot packages, each with the error code the backend must answer.

Every case starts from a good package (`shots.write_shot(..., color=True,
pose=True)`) and breaks one thing the way real files break: bad JSON, a
foreign schema version, path traversal, a frame missing, a truncated or
garbage EXR, a decompression bomb, a wrong size. Hashes in shot.json are
kept consistent with the files unless the case is about a hash.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from shots import write_shot

GOOD = {"frames": 3, "width": 24, "height": 16, "color": True, "pose": True}


@dataclass(frozen=True)
class BrokenCase:
    name: str
    code: str  # the error code expected
    breaks: Callable[[Path], None]
    blob_code: str | None = None  # the code when the package arrives as blobs, if it differs


def _shot(directory: Path) -> dict:
    return json.loads((directory / "shot.json").read_text())


def _save(directory: Path, shot: dict) -> None:
    (directory / "shot.json").write_text(json.dumps(shot))


def rehash(directory: Path) -> None:
    """Make shot.json's hashes match the files again after a file was replaced."""
    shot = _shot(directory)
    records = [f["passes"] for f in shot["frames"]] + [f["color"] for f in shot["frames"] if "color" in f]
    records += [shot["pose"]] if "pose" in shot else []
    for record in records:
        path = directory / record["path"]
        if path.is_file():
            record["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    _save(directory, shot)


def _edit(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def breaks(directory: Path) -> None:
        shot = _shot(directory)
        change(shot)
        _save(directory, shot)
    return breaks


def _replace_file(path: str, data: Callable[[bytes], bytes]) -> Callable[[Path], None]:
    def breaks(directory: Path) -> None:
        target = directory / path
        target.write_bytes(data(target.read_bytes()))
        if path != "shot.json":
            rehash(directory)
    return breaks


def exr_bomb(data: bytes, size: int = 30000) -> bytes:
    """The same EXR whose header claims a `size` x `size` data window."""
    key = b"dataWindow\x00box2i\x00"
    at = data.index(key) + len(key) + 4  # skip the attribute's byte size
    x0, y0, _, _ = struct.unpack("<4i", data[at:at + 16])
    return data[:at] + struct.pack("<4i", x0, y0, x0 + size - 1, y0 + size - 1) + data[at + 16:]


def png_bomb(width: int = 60000, height: int = 60000) -> bytes:
    """A valid tiny PNG file whose header claims a huge image."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _other_size_frame(directory: Path) -> None:
    other = write_shot(directory.parent / f"{directory.name}-other", frames=1, width=GOOD["width"] * 2, height=8)
    shutil.copy(other / "passes" / "0001.exr", directory / "passes" / "0001.exr")
    rehash(directory)


def _set(path: list, value: object) -> Callable[[dict], None]:
    def change(shot: dict) -> None:
        target = shot
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


CASES = [
    BrokenCase("not_json", "malformed_json", _replace_file("shot.json", lambda d: b"{this is not json")),
    BrokenCase("json_array", "invalid_shot", _replace_file("shot.json", lambda d: b"[1, 2]")),
    BrokenCase("future_schema", "unknown_schema", _edit(_set(["schema"], "underpaint.shot/9"))),
    BrokenCase("no_schema", "unknown_schema", _edit(lambda s: s.pop("schema"))),
    BrokenCase("negative_fps", "invalid_shot", _edit(_set(["fps"], -24))),
    BrokenCase("missing_frame", "missing_frames", _edit(lambda s: s.update(frame_end=s["frame_end"] + 2))),
    BrokenCase("frame_twice", "invalid_shot", _edit(lambda s: s["frames"].__setitem__(1, s["frames"][0]))),
    BrokenCase("traversal", "invalid_shot", _edit(_set(["frames", 0, "passes", "path"], "../../etc/passwd"))),
    BrokenCase("absolute_path", "invalid_shot", _edit(_set(["frames", 0, "passes", "path"], "/etc/passwd"))),
    BrokenCase("dot_segment", "invalid_shot", _edit(_set(["frames", 0, "passes", "path"], "passes/./0001.exr"))),
    BrokenCase("wrong_hash", "hash_mismatch", _edit(_set(["frames", 0, "passes", "sha256"], "0" * 64)),
               blob_code="missing_blobs"),
    BrokenCase("bad_hash_format", "invalid_shot", _edit(_set(["frames", 0, "passes", "sha256"], "xyz"))),
    BrokenCase("garbage_exr", "corrupt_file", _replace_file("passes/0002.exr", lambda d: b"\x76\x2f\x31\x01" + d[4:64])),
    BrokenCase("not_an_exr", "corrupt_file", _replace_file("passes/0002.exr", lambda d: b"GIF89a" * 50)),
    BrokenCase("truncated_exr", "corrupt_file", _replace_file("passes/0003.exr", lambda d: d[: len(d) * 2 // 3])),
    BrokenCase("exr_bomb", "image_too_large", _replace_file("passes/0001.exr", exr_bomb)),
    BrokenCase("exr_wrong_size", "resolution_mismatch", _other_size_frame),
    BrokenCase("missing_channel", "missing_channel", _edit(_set(["passes", "depth", "channels"], ["ViewLayer.Z"]))),
    BrokenCase("huge_resolution", "image_too_large", _edit(_set(["resolution"], {"width": 16000, "height": 16000}))),
    BrokenCase("garbage_png", "corrupt_file", _replace_file("color/0001.png", lambda d: d[:40] + b"\0" * 40)),
    BrokenCase("png_bomb", "image_too_large", _replace_file("color/0002.png", lambda d: png_bomb())),
    BrokenCase("png_wrong_size", "resolution_mismatch", _replace_file("color/0003.png", lambda d: png_bomb(8, 8))),
    BrokenCase("pose_not_json", "malformed_json", _replace_file("pose.json", lambda d: d[:-10])),
    BrokenCase("pose_short_skeleton", "invalid_pose", _replace_file(
        "pose.json", lambda d: d.replace(b'"nose", ', b"", 1))),
    BrokenCase("pose_outside_shot", "frame_out_of_range", _replace_file(
        "pose.json", lambda d: d.replace(b'"frame": 3', b'"frame": 99', 1))),
]


def broken_package(case: BrokenCase, root: Path) -> Path:
    """A fresh good package under `root/<case name>`, then broken as `case` says."""
    directory = write_shot(root / case.name, **GOOD)  # type: ignore[arg-type]
    case.breaks(directory)
    return directory
