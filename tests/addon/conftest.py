"""Add-on tests run in real Blender (the `bpy` module) with the extension installed from its zip.

Blender's user directories point at a temporary folder before `bpy` is imported,
so nothing touches the machine's real Blender config. Where `bpy` is missing (the
backend's plain Python) only the bpy-free tests of the job module (test_job_module.py) run.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_USER_DIR = tempfile.mkdtemp(prefix="underpaint-blender-user-")
os.environ["BLENDER_USER_RESOURCES"] = _USER_DIR

try:
    import bpy  # noqa: F401, E402  (after the set-up above; brings Blender's own modules, e.g. addon_utils)
except ModuleNotFoundError:
    pass  # the backend's Python: the bpy-free tests only

sys.path.insert(0, str(ROOT))  # the add-on's source (bpy-free tests), demo/ and tests/ helpers

ADDON_MODULE = "bl_ext.user_default.underpaint"


def addon_zip() -> Path:
    """The zip `make addon` built (the Makefile builds it before running this suite)."""
    zips = sorted((ROOT / "dist").glob("underpaint-*.zip"))
    if not zips:
        raise FileNotFoundError("no dist/underpaint-*.zip: run `make addon` first")
    return zips[-1]


@pytest.fixture(scope="session")
def addon() -> str:
    """Install and enable the extension once per test session; returns its module name."""
    result = bpy.ops.extensions.package_install_files(
        filepath=str(addon_zip()), repo="user_default", enable_on_install=True
    )
    assert result == {"FINISHED"}, result
    assert ADDON_MODULE in bpy.context.preferences.addons
    return ADDON_MODULE
