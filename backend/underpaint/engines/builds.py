"""Locally built models (the tiny sets of tests and CI): built once per version, atomically.

A builder writes a diffusers folder. `build_once` keeps it in place while its
stamp matches the builder's version, and rebuilds it when the builder's
configs change (bump the version). The folder is built in a scratch sibling
and renamed into place, so a reader never sees a half-written model and two
processes building at once both end up with one whole folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

STAMP = "BUILD_VERSION"


def is_current(folder: Path, version: str) -> bool:
    stamp = folder / STAMP
    return stamp.is_file() and stamp.read_text().strip() == version


def build_once(target: Path, version: str, build: Callable[[Path], None]) -> Path:
    """`target`, built by `build(folder)` unless it is already there at `version`."""
    if is_current(target, version):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(scratch)
        (scratch / STAMP).write_text(version + "\n")
        if target.exists() and not is_current(target, version):
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.rename(scratch, target)
        except OSError:
            if not is_current(target, version):  # another process renamed its build into place first
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target
