"""`make demo`: the whole pipeline on a blocking scene built by code -> out/demo/.

Runs in Blender's Python (the `bpy` module) exactly as an artist's Blender
would: the extension is installed from its zip, the server is started with
the add-on's "Start Local Server", the shot is stylized with the add-on's
`underpaint.stylize_shot` (background mode: it waits for the take), and the
pictures are made by `demo/media.py` in the backend's environment.

    .venv-blender/bin/python demo/run.py --backend-python .venv/bin/python --out out/demo

With the default model set's weights on this machine it paints with them;
without (CI, a fresh checkout) it uses the `tiny` set and says so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Blender's user folders go to a scratch directory before bpy is imported: the demo never touches
# the machine's real Blender configuration.
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="underpaint-demo-blender-")

import bpy  # noqa: E402  (must follow the environment set-up above)

sys.path.insert(0, str(ROOT / "demo"))
import blocking  # noqa: E402

ADDON = "bl_ext.user_default.underpaint"
DATA_DIR = ROOT / "build" / "demo-data"
PROMPT = "oil painting of two travellers walking past a red cube and a blue ball, warm evening light"
NEGATIVE = "blurry, low quality, text, watermark"
# Paint settings per model set: real weights get the real size and steps; tiny stays quick on 2 CPU cores.
REAL = {"width": 512, "height": 288, "steps": 20}
TINY = {"width": 128, "height": 72, "steps": 2}
# Model sets with random weights for tests and CI are named tiny, tiny-vace, ...
TINY_PREFIX = "tiny"


def install_addon() -> None:
    zips = sorted((ROOT / "dist").glob("underpaint-*.zip"))
    if not zips:
        raise SystemExit("no dist/underpaint-*.zip: run `make addon` first")
    result = bpy.ops.extensions.package_install_files(filepath=str(zips[-1]), repo="user_default",
                                                      enable_on_install=True)
    if result != {"FINISHED"} or ADDON not in bpy.context.preferences.addons:
        raise SystemExit(f"installing {zips[-1]} failed: {result}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(backend_python: Path) -> None:
    """The add-on's own 'Start Local Server', pointed at the backend's environment.

    Its data folder is the demo's own (kept between runs, so the tiny models are built once):
    a server the artist runs on the default data folder is left alone. Weights come from the
    Hugging Face cache either way.
    """
    os.environ["UNDERPAINT_DATA_DIR"] = str(DATA_DIR)
    prefs = bpy.context.preferences.addons[ADDON].preferences
    prefs.server_url = f"http://127.0.0.1:{free_port()}"
    prefs.backend_command = f"{backend_python} -m underpaint.cli"
    bpy.ops.underpaint.start_server()


def choose_model() -> dict[str, object]:
    """The server's default model set when real weights are here, else `tiny` (said once, clearly).

    Without real weights the server has no default (it never picks a test set behind the artist's
    back); the set the demo would rather use is then the first real one the server lists.
    """
    status = sys.modules[f"{ADDON}.server_status"]
    info = status.preferences_client().health()
    default = str(info.get("default_model") or "")
    if default and not default.startswith(TINY_PREFIX):
        print(f"Painting with the default model set {default!r}.", flush=True)
        return {"model": default, **REAL}
    wanted = next((str(m["name"]) for m in info.get("models", []) if not str(m["name"]).startswith(TINY_PREFIX)),
                  "sd15")
    print(f"No weights for {wanted!r} on this machine: painting with the 'tiny' model set "
          f"(random weights, so the pictures are noise; every step is the real code path). "
          f"`underpaint models pull {wanted}` gets real weights.", flush=True)
    return {"model": "tiny", **TINY}


def render_blocking(scene: bpy.types.Scene, folder: Path) -> None:
    """The blocking as the artist sees it (Workbench), for the side-by-side; render settings restored.

    The take's review strip is in the shot's review scene, so this renders the 3D scene as it is.
    """
    render = scene.render
    saved = (render.engine, render.filepath, render.image_settings.file_format)
    try:
        render.engine = "BLENDER_WORKBENCH"
        render.image_settings.file_format = "PNG"
        render.filepath = str(folder) + "/"
        bpy.ops.render.render(animation=True, scene=scene.name)
    finally:
        render.engine, render.filepath, render.image_settings.file_format = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend-python", type=Path, required=True, help="python of the backend's venv")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    out = args.out.resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    started = time.monotonic()

    install_addon()
    bpy.context.preferences.filepaths.save_version = 0  # no demo.blend1 beside the demo
    blocking.build_demo_scene("Blocking", frames=(1, args.frames))
    # Saved first, so takes land next to it in out/demo/underpaint/<shot>/<take>/ (the add-on's default).
    bpy.ops.wm.save_as_mainfile(filepath=str(out / "demo.blend"))
    scene = bpy.data.scenes["Blocking"]
    start_server(args.backend_python.absolute())
    try:
        settings = scene.underpaint
        chosen = choose_model()
        settings.model = str(chosen["model"])
        settings.size_mode = "CUSTOM"  # the demo's own sizes, not the model set's native size
        settings.width, settings.height, settings.steps = chosen["width"], chosen["height"], chosen["steps"]
        settings.prompt, settings.negative_prompt = PROMPT, NEGATIVE
        settings.seed, settings.seed_lock = 7, True
        settings.use_normal = True
        with bpy.context.temp_override(scene=scene):
            bpy.ops.underpaint.stylize_shot()
        take = settings.takes[settings.active_take]
    finally:
        sys.modules[f"{ADDON}.server_process"].stop()
    render_blocking(scene, out / "blocking")
    painted = out / "painted"
    shutil.copytree(take.directory, painted)
    package = Path(take.directory).parent / "package"
    subprocess.run([str(args.backend_python), str(ROOT / "demo" / "media.py"), "--package", str(package),
                    "--blocking", str(out / "blocking"), "--painted", str(painted), "--out", str(out)], check=True)
    bpy.ops.wm.save_mainfile()
    print(f"Demo done in {time.monotonic() - started:.0f} s: take {take.name} ({take.model}, seed {take.seed}) "
          f"-> {out}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except RuntimeError as exc:  # an operator's report (server, export, job): the message says it all
        raise SystemExit(f"make demo failed: {exc}") from None
