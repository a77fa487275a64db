"""A .blend saved before the controls came from the server opens with its controls and size kept.

Opening a file replaces every scene, so this runs in its own Blender Python process: it saves
a file whose settings hold only the old properties (`use_normal`, `normal_weight`, ... as an
older add-on wrote them), opens it again, and reports what the add-on's load handler made of it.
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
import json, os, sys
import bpy
bpy.ops.extensions.package_install_files(filepath=sys.argv[1], repo="user_default", enable_on_install=True)
settings = bpy.context.scene.underpaint
settings.use_normal, settings.normal_weight, settings.use_pose, settings.pose_weight = True, 0.4, False, 1.3
settings.width, settings.height = 320, 176
assert len(settings.controls) == 0 and not settings.controls_migrated  # as an older add-on left it
bpy.ops.wm.save_as_mainfile(filepath=sys.argv[2])
bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.open_mainfile(filepath=sys.argv[2])
settings = bpy.context.scene.underpaint
opened = {"controls": [[c.name, c.enabled, round(c.weight, 3), c.available] for c in settings.controls],
          "size_mode": settings.size_mode, "size": [settings.width, settings.height]}
settings.controls["normal"].weight = 0.9  # from now on the collection is what counts: migrated only once
bpy.ops.wm.save_mainfile()
bpy.ops.wm.open_mainfile(filepath=sys.argv[2])
settings = bpy.context.scene.underpaint
opened["again"] = [[c.name, round(c.weight, 3)] for c in settings.controls]
print(json.dumps(opened))
"""


def test_an_old_file_opens_with_its_controls_and_size() -> None:
    user_dir = tempfile.mkdtemp(prefix="underpaint-blender-user-")
    blend = Path(user_dir) / "old.blend"
    result = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(addon_zip()), str(blend)], capture_output=True, text=True,
        timeout=300, cwd=ROOT, env=dict(os.environ, BLENDER_USER_RESOURCES=user_dir),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    opened = json.loads(result.stdout.strip().splitlines()[-1])
    assert opened["controls"] == [["depth", True, 1.0, True], ["normal", True, 0.4, True],
                                  ["pose", False, 1.3, True]]
    assert opened["size_mode"] == "CUSTOM" and opened["size"] == [320, 176]
    assert opened["again"] == [["depth", 1.0], ["normal", 0.9], ["pose", 1.3]]
