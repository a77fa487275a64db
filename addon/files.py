"""Where a job's files live on disk: shot packages to upload, and painted frames to keep.

Frames are named by Blender frame number (`####.png`), so an image sequence
lines up with the timeline. A shot's folder and a take's folder follow one naming
rule (`folder_name`), and a take never overwrites an earlier one. No `bpy` here: the
job module and the pass export share these helpers.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path


def sha256_file(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in blocks (the server stores blobs by it)."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def package_files(package: Path) -> tuple[str, dict[str, Path]]:
    """(sha256 of shot.json, sha256 -> path of every file to upload) for a shot package folder.

    shot.json lists every other file with its hash, so the server can assemble the package from blobs.
    """
    shot_json = package / "shot.json"
    shot = json.loads(shot_json.read_text(encoding="utf-8"))
    files = {sha256_file(shot_json): shot_json}
    listed: list[dict[str, str]] = [f["passes"] for f in shot["frames"]]
    listed += [f["color"] for f in shot["frames"] if f.get("color")]
    if shot.get("pose"):
        listed.append(shot["pose"])
    for entry in listed:
        files[entry["sha256"]] = package / entry["path"]
    return next(iter(files)), files


def folder_name(text: str) -> str:
    """The one rule for naming a shot's or a take's folder: one path part, whatever the artist or the server sent."""
    cleaned = "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip(".")
    return cleaned or "_"


def fresh_folder(parent: Path, take_id: str) -> Path:
    """`parent/<take id>`, or `<take id>-2`, ... when that folder already holds frames.

    Take ids are unique per server: a second server (or a reset data folder) starts counting
    again, and its takes must never overwrite the frames of an earlier one.
    """
    base = folder_name(take_id)
    candidate, number = parent / base, 1
    while candidate.is_dir() and any(candidate.iterdir()):
        number += 1
        candidate = parent / f"{base}-{number}"
    return candidate


# A take folder's flicker curve, beside its frames (downloaded with them when the server measured it).
TEMPORAL_PLOT = "temporal.png"


def frame_path(folder: Path, frame: int) -> Path:
    """`####.png`, Blender's own frame-number padding, so image sequences line up with frames."""
    return folder / f"{frame:04d}.png"
