"""Benchmark: how long Stylize Shot holds Blender's main thread, on the demo shot through a real server.

Two figures, each beside its baseline:
- timer ticks while a job runs (upload, paint, download, loading the take) against the
  100 ms a UI may stall before the artist feels it;
- the export as the UI runs it, one frame per modal event, against exporting in one call
  (what a blocking operator would freeze the UI for).

Runs with the Blender environment after `make addon` (starts `underpaint serve` from .venv):
    .venv-blender/bin/python bench/blender/stylize_ui.py [--frames 48]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from demo import run as demo  # noqa: E402  (isolates Blender's user folders, then imports bpy)

bpy = demo.bpy
TICK_BUDGET_MS = 100.0


def ms(values: list[float]) -> str:
    return f"max {max(values) * 1000:7.1f} ms  mean {statistics.fmean(values) * 1000:6.2f} ms  ({len(values)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    demo.install_addon()
    scene = demo.blocking.build_demo_scene("Bench", frames=(1, args.frames))
    prefs = bpy.context.preferences.addons[demo.ADDON].preferences
    prefs.output_dir = tempfile.mkdtemp(prefix="underpaint-bench-takes-")
    jobs = sys.modules[f"{demo.ADDON}.jobs"]
    passes = sys.modules[f"{demo.ADDON}.passes"]
    settings = scene.underpaint
    settings.prompt, settings.model, settings.steps = demo.PROMPT, "tiny", demo.TINY["steps"]
    settings.width, settings.height = demo.TINY["width"], demo.TINY["height"]

    package = Path(tempfile.mkdtemp(prefix="underpaint-bench-package-"))
    steps, started = [], time.perf_counter()
    exporting = passes.iter_export(scene, package, 1, args.frames, passes.ExportOptions(shot_name="Bench"))
    while True:
        begun = time.perf_counter()
        try:
            next(exporting)
        except StopIteration:
            break
        steps.append(time.perf_counter() - begun)
    whole = time.perf_counter() - started

    demo.start_server(ROOT / ".venv" / "bin" / "python")
    try:
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            bpy.ops.underpaint.stylize_shot(run_mode="TIMERS")
        job = jobs.active(scene.name)
        ticks = []
        while not job.finished:
            begun = time.perf_counter()
            jobs.tick()
            ticks.append(time.perf_counter() - begun)
            time.sleep(jobs.TICK_SECONDS)
    finally:
        sys.modules[f"{demo.ADDON}.server_process"].stop()
    if job.state != "done":
        raise SystemExit(f"the job ended {job.state}: {job.message}")

    print(f"Stylize Shot, {args.frames} frames at {scene.render.resolution_x}x{scene.render.resolution_y}, "
          f"tiny {settings.width}x{settings.height} x {settings.steps} steps")
    print(f"  timer tick during the job   {ms(ticks)}   baseline: {TICK_BUDGET_MS:.0f} ms budget")
    print(f"  export, one frame per event {ms(steps)}   baseline: {whole * 1000:7.0f} ms in one call")


if __name__ == "__main__":
    main()
