"""A farm node's set-up: the preferences from environment variables, shots named by their .blend.

Saving and opening files replaces every scene, so this runs in its own Blender Python process
(as test_old_files.py does): it saves two new files into one folder, both with the default
scene "Scene", and reports how the add-on names their shots and where it sends and writes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from conftest import ROOT, addon_zip

SCRIPT = """
import json, sys
import bpy
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
package = "bl_ext.user_default.underpaint"
scene_takes = sys.modules[package + ".scene_takes"]
server_status = sys.modules[package + ".server_status"]
report = {"unsaved": scene_takes.shot_name(bpy.context.scene)}
for name in ("a", "b"):
    bpy.ops.wm.save_as_mainfile(filepath=f"{sys.argv[2]}/{name}.blend")
    scene = bpy.context.scene
    report[name] = [scene.name, scene_takes.shot_name(scene), str(scene_takes.shot_folder(scene))]
scene.underpaint.shot_name = "sq010_sh020"
report["explicit"] = scene_takes.shot_name(scene)
client = server_status.preferences_client()
report["client"] = [client.base_url, client.token]
print(json.dumps(report))
"""


def run_script(folder: Path, **env: str) -> dict:
    user_dir = tempfile.mkdtemp(prefix="underpaint-blender-user-")
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(addon_zip()), str(folder)], capture_output=True, text=True,
        timeout=300, cwd=ROOT, env=dict(os.environ, BLENDER_USER_RESOURCES=user_dir, **env),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_new_files_in_one_folder_are_two_shots_and_the_environment_configures_a_farm_node(
    tmp_path: Path,
) -> None:
    out = tmp_path / "takes"
    report = run_script(tmp_path, UNDERPAINT_SERVER="render-01:9000", UNDERPAINT_TOKEN="s3cret",
                        UNDERPAINT_OUTPUT=str(out))
    assert report["unsaved"] == "Scene"
    assert report["a"] == ["Scene", "a-Scene", str(out / "a-Scene")]
    assert report["b"] == ["Scene", "b-Scene", str(out / "b-Scene")]
    assert report["explicit"] == "sq010_sh020"
    assert report["client"] == ["http://render-01:9000", "s3cret"]


def test_without_the_environment_the_saved_preferences_apply(tmp_path: Path) -> None:
    env = {name: "" for name in ("UNDERPAINT_SERVER", "UNDERPAINT_TOKEN", "UNDERPAINT_OUTPUT")}
    report = run_script(tmp_path, **env)
    assert report["a"][2] == str(tmp_path / "underpaint" / "a-Scene")  # `//underpaint` beside the .blend
    assert report["client"] == ["http://127.0.0.1:8765", ""]
