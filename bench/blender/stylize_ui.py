"""Benchmark: how long Stylize Shot holds Blender's main thread, on the demo shot through a real server.

The UI's tick-time budget is a figure here, not an assertion in the functional tests.
Each figure stands beside its baseline:
- timer ticks while a job runs (upload, paint, download, loading the take) against the
  100 ms a UI may stall before the artist feels it;
- starting a server health check and taking its answer in (controls synced), the same budget;
- the export as the UI runs it (the shared modal exporter, one frame per timer event)
  against exporting in one call (what a blocking operator would freeze the UI for).

Runs with the Blender environment after `make addon` (starts `underpaint serve` from .venv):
    .venv-blender/bin/python bench/blender/stylize_ui.py [--frames 48]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from demo import run as demo  # noqa: E402  (isolates Blender's user folders, then imports bpy)

bpy = demo.bpy
TICK_BUDGET_MS = 100.0
TIMER = SimpleNamespace(type="TIMER", value="NOTHING")


def ms(values: list[float]) -> str:
    return f"max {max(values) * 1000:7.1f} ms  mean {statistics.fmean(values) * 1000:6.2f} ms  ({len(values)})"


def timed(call: Callable[[], object]) -> float:
    """Seconds one call holds the (main) thread."""
    begun = time.perf_counter()
    call()
    return time.perf_counter() - begun


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    args = parser.parse_args()
    demo.install_addon()
    scene = demo.blocking.build_demo_scene("Bench", frames=(1, args.frames))
    prefs = bpy.context.preferences.addons[demo.ADDON].preferences
    prefs.output_dir = tempfile.mkdtemp(prefix="underpaint-bench-takes-")
    modules = {name: sys.modules[f"{demo.ADDON}.{name}"]
               for name in ("job_timer", "passes", "server_status", "ui.modal_export")}
    job_timer, passes, server_status = modules["job_timer"], modules["passes"], modules["server_status"]
    settings = scene.underpaint
    settings.prompt, settings.model, settings.steps = demo.PROMPT, "tiny", demo.TINY["steps"]
    settings.size_mode = "CUSTOM"
    settings.width, settings.height = demo.TINY["width"], demo.TINY["height"]

    options = passes.ExportOptions(shot_name="Bench", motion=False)
    whole = timed(lambda: passes.export_shot(scene, Path(tempfile.mkdtemp()), 1, args.frames, options))
    context = SimpleNamespace(window_manager=bpy.context.window_manager, workspace=None)
    export = modules["ui.modal_export"].ModalExport(
        scene.name, passes.iter_export(scene, Path(tempfile.mkdtemp()), 1, args.frames, options), args.frames)
    events = []
    while True:
        begun = time.perf_counter()
        step = export.handle(context, TIMER)
        events.append(time.perf_counter() - begun)
        if step.outcome != "running":
            break
    if step.outcome != "done":
        raise SystemExit(f"the export ended {step.outcome}: {step.message}")

    demo.start_server(ROOT / ".venv" / "bin" / "python")
    try:
        status = server_status.STATUS
        status.request(server_status.preferences_client())
        health_start, health_apply = [], []
        for _ in range(10):
            status.recheck()
            health_start.append(timed(status.maybe_check))
            status._thread.join(timeout=30)
            health_apply.append(timed(job_timer.tick))
        with bpy.context.temp_override(scene=scene, view_layer=scene.view_layers[0]):
            bpy.ops.underpaint.stylize_shot(run_mode="TIMERS")
        job = job_timer.active(scene.name)
        ticks = []
        while not job.finished:
            ticks.append(timed(job_timer.tick))
            time.sleep(job_timer.TICK_SECONDS)
    finally:
        sys.modules[f"{demo.ADDON}.server_process"].stop()
    if job.state != "done":
        raise SystemExit(f"the job ended {job.state}: {job.message}")

    print(f"Stylize Shot, {args.frames} frames at {scene.render.resolution_x}x{scene.render.resolution_y}, "
          f"tiny {settings.width}x{settings.height} x {settings.steps} steps")
    print(f"  timer tick during the job      {ms(ticks)}   baseline: {TICK_BUDGET_MS:.0f} ms budget")
    print(f"  health check started           {ms(health_start)}   baseline: {TICK_BUDGET_MS:.0f} ms budget")
    print(f"  health answer taken in (tick)  {ms(health_apply)}   baseline: {TICK_BUDGET_MS:.0f} ms budget")
    print(f"  export, one frame per event    {ms(events)}   baseline: {whole * 1000:7.0f} ms in one call")


if __name__ == "__main__":
    main()
