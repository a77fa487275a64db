"""The extension zip installs, registers, and unregisters cleanly in real Blender."""

from __future__ import annotations

import sys
import zipfile

import addon_utils
import bpy
import pytest
from conftest import ADDON_MODULE, addon_zip

OPERATORS = ("export_shot", "stylize_shot", "rerender_range", "refine_region", "cancel_job", "load_take", "train_style")


def test_zip_has_manifest_and_addon_at_root() -> None:
    names = zipfile.ZipFile(addon_zip()).namelist()
    assert "blender_manifest.toml" in names
    assert "__init__.py" in names
    assert not any(n.startswith("addon/") or "__pycache__" in n for n in names)


def test_installed_addon_registers_panel_preferences_and_settings(addon: str) -> None:
    assert hasattr(bpy.types, "UNDERPAINT_PT_main")
    settings = bpy.context.scene.underpaint
    assert settings.width % 8 == 0 and settings.height % 8 == 0
    prefs = bpy.context.preferences.addons[addon].preferences
    assert prefs.server_url == "http://127.0.0.1:8765"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("localhost:9000", "http://localhost:9000"),
        ("http://10.0.0.5:8765/", "http://10.0.0.5:8765"),
        ("  https://render.studio:443/  ", "https://render.studio:443"),
        ("", "http://127.0.0.1:8765"),
    ],
)
def test_server_url_is_normalised_when_typed(addon: str, typed: str, expected: str) -> None:
    prefs = bpy.context.preferences.addons[addon].preferences
    prefs.server_url = typed
    assert prefs.server_url == expected
    prefs.server_url = "http://127.0.0.1:8765"


def test_bad_server_url_is_refused_by_normaliser(addon: str) -> None:
    preferences = sys.modules[f"{addon}.preferences"]
    with pytest.raises(ValueError, match="not a server address"):
        preferences.normalize_server_url("ftp://x")


def test_every_designed_operator_is_registered(addon: str) -> None:
    missing = [op for op in OPERATORS if not hasattr(bpy.types, f"UNDERPAINT_OT_{op}")]
    assert missing == []


def test_disable_and_enable_leave_no_leaks(addon: str) -> None:
    addon_utils.disable(ADDON_MODULE)
    assert not hasattr(bpy.types, "UNDERPAINT_PT_main")
    assert not hasattr(bpy.types.Scene, "underpaint")
    assert not any(name.startswith("UNDERPAINT_") for name in dir(bpy.types))
    addon_utils.enable(ADDON_MODULE, default_set=True)
    assert hasattr(bpy.types, "UNDERPAINT_PT_main")
    assert bpy.context.scene.underpaint is not None
