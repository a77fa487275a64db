"""Putting the package on disk: atomic file writes and the sha256 of every file (`files.sha256_file`).

A reader (the server, a client uploading blobs) never sees a half-written
file: everything is written under a temporary name in the same folder and
renamed into place. shot.json is written last, so a folder with a shot.json
holds a complete package.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..files import sha256_file
from .options import ExportError


def prepare_directory(directory: Path, subfolders: tuple[str, ...]) -> None:
    """Create the package folders and prove they are writable; drop a previous shot.json (it no longer holds)."""
    try:
        for folder in (directory, *(directory / name for name in subfolders)):
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=folder):
                pass
        (directory / "shot.json").unlink(missing_ok=True)
    except OSError as exc:
        raise ExportError(f"cannot write the shot package to {directory}: {exc.strerror or exc}") from exc


def partial_path(final: Path) -> Path:
    """Where a file is written before it is renamed to `final` (same folder and extension, hidden name)."""
    return final.with_name(f".partial-{final.name}")


def commit(partial: Path, final: Path) -> None:
    """Move a finished file into place atomically."""
    os.replace(partial, final)


def file_record(root: Path, path: Path) -> dict[str, str]:
    """The `PackageFile` record of a file inside the package."""
    return {"path": path.relative_to(root).as_posix(), "sha256": sha256_file(path)}


def write_json(path: Path, data: Any, *, indent: int | None = None) -> None:
    """Write JSON atomically. NaN or infinity is a bug upstream, so it fails here rather than in the server."""
    text = json.dumps(data, indent=indent, allow_nan=False, ensure_ascii=False)
    partial = partial_path(path)
    partial.write_text(text + "\n", encoding="utf-8")
    commit(partial, path)
