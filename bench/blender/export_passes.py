"""Benchmark: shot export speed (depth + normal + object index + pose) at 512x512, against the naive way.

The naive way is what per-pass exporters do: one render per pass (depth, then
normal, then object index), each with only that pass switched on, then the
pose. Both use the same Cycles settings (1 sample, no bounces) and the same
scene, so the difference is the one-render-per-frame design alone.

Runs with the Blender environment after `make addon`:
    .venv-blender/bin/python bench/blender/export_passes.py [--frames 48] [--size 512]
Target: at least 8 frames/s and at least 2x the naive way.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
os.environ["BLENDER_USER_RESOURCES"] = tempfile.mkdtemp(prefix="underpaint-bench-user-")

import bpy  # noqa: E402  (after the user-folder isolation above)

sys.path.insert(0, str(ROOT))
from demo import blocking  # noqa: E402

MODULE = "bl_ext.user_default.underpaint"


def install_addon() -> None:
    zips = sorted((ROOT / "dist").glob("underpaint-*.zip"))
    if not zips:
        raise SystemExit("no dist/underpaint-*.zip: run `make addon` first")
    bpy.ops.extensions.package_install_files(filepath=str(zips[-1]), repo="user_default", enable_on_install=True)


def naive_export(scene: bpy.types.Scene, directory: Path, frames: range, persistent: bool) -> None:
    """One render per pass per frame, each pass into its own EXR, then the pose from those files.

    `persistent` keeps Cycles' scene data between renders (off by default in Blender, and in the
    per-pass exporters we know of).
    """
    setup = importlib.import_module(f"{MODULE}.passes.render_setup")
    exr = importlib.import_module(f"{MODULE}.passes.exr")
    pose = importlib.import_module(f"{MODULE}.passes.pose")
    camera_mod = importlib.import_module(f"{MODULE}.passes.camera")
    objects = importlib.import_module(f"{MODULE}.passes.objects")
    layer_name = scene.view_layers[0].name
    size = (scene.render.resolution_x, scene.render.resolution_y)
    armatures = [obj for obj in scene.objects if obj.type == "ARMATURE"]
    with objects.temporary_pass_indices(objects.indexed_objects(scene.view_layers[0])) as table, \
            setup.camera_normal_material() as material, setup.temporary_copy(scene, "Naive") as copy:
        setup.configure_data_render(copy, layer_name, size, False, material)
        copy.render.use_persistent_data = persistent
        layer = copy.view_layers[layer_name]
        depsgraph = layer.depsgraph
        rigs = [(arm, pose.armature_rig(arm), objects.owned_indices(arm, table)) for arm in armatures]
        for frame in frames:
            copy.frame_set(frame)
            files = {}
            for name, (z, index, aov) in {"depth": (True, False, False), "normal": (False, False, True),
                                          "index": (False, True, False)}.items():
                layer.use_pass_z, layer.use_pass_object_index = z, index
                if aov and not layer.aovs:
                    layer.aovs.add().name = setup.NORMAL_AOV
                elif not aov and layer.aovs:
                    layer.aovs.remove(layer.aovs[0])
                files[name] = directory / f"{name}_{frame:04d}.exr"
                setup.render_to(copy, files[name])
            depth = exr.read_channels(files["depth"], [f"{layer_name}.Depth.Z"])[f"{layer_name}.Depth.Z"]
            index_name = next(n for n in exr.channel_names(files["index"]) if n.endswith(".X"))
            index = exr.read_channels(files["index"], [index_name])[index_name]
            camera = copy.camera.evaluated_get(depsgraph)
            projection = camera_mod.Projection.of(camera, depsgraph, copy)
            for arm, rig, own in rigs:
                joints = pose.project_joints(arm.evaluated_get(depsgraph), rig, projection)
                pose.gather_armature_pose(arm.name, joints, projection, pose.RenderedSurface(depth, index), own)


def timed(run: callable, frames: int) -> tuple[float, float]:
    """(frames per second of wall time, CPU milliseconds per frame over all of this process's threads).

    CPU time barely changes when other work shares the machine; wall time does.
    """
    start, cpu = time.perf_counter(), time.process_time()
    run()
    return frames / (time.perf_counter() - start), 1000 * (time.process_time() - cpu) / frames


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=2, help="alternate the two ways this often, keep the best")
    args = parser.parse_args()
    install_addon()
    passes = importlib.import_module(f"{MODULE}.passes")
    scene = blocking.build_demo_scene("Bench", resolution=(args.size, args.size), frames=(1, args.frames))
    frames = range(1, args.frames + 1)
    options = passes.ExportOptions(motion=False)
    out = Path(tempfile.mkdtemp(prefix="underpaint-bench-"))
    runs: dict[str, list[tuple[float, float]]] = {
        "one data render per frame (underpaint)": [],
        "naive: one render per pass": [],
        "naive, with persistent data": [],
    }
    ways = (
        lambda: passes.export_shot(scene, out / "ours", 1, args.frames, options),
        lambda: naive_export(scene, out, frames, persistent=False),
        lambda: naive_export(scene, out, frames, persistent=True),
    )
    start_load = os.getloadavg()[0]
    for _ in range(args.rounds):  # alternating, so a busy moment on a shared machine hurts all alike
        for figures, run in zip(runs.values(), ways, strict=True):
            figures.append(timed(run, args.frames))
    motion = timed(lambda: passes.export_shot(scene, out / "motion", 1, args.frames,
                                              passes.ExportOptions(motion=True)), args.frames)
    best = {name: max(figures) for name, figures in runs.items()}  # the round with the best wall-clock rate
    print(f"export_passes: {args.size}x{args.size}, {args.frames} frames of the demo blocking scene "
          f"({len(scene.objects)} objects, 2 armatures); {os.cpu_count()} CPUs, load average "
          f"{start_load:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the machine slows every row)")
    for name, figures in runs.items():
        fps, cpu_ms = best[name]
        print(f"  {name:40s} {fps:6.2f} frames/s  ({1000 / fps:4.0f} ms/frame wall, {cpu_ms:4.0f} ms CPU; "
              f"rounds {', '.join(f'{v:.2f}' for v, _ in figures)} frames/s)")
    print(f"  {'underpaint, with motion vectors too':40s} {motion[0]:6.2f} frames/s  "
          f"({1000 / motion[0]:4.0f} ms/frame wall, {motion[1]:4.0f} ms CPU)")
    (ours, ours_cpu), (naive, naive_cpu), (naive_persistent, _) = best.values()
    print(f"  speed-up {ours / naive:.2f}x over the naive way in wall time ({naive_cpu / ours_cpu:.2f}x in CPU time; "
          f"{ours / naive_persistent:.2f}x over the naive way with persistent data); "
          f"target >= 8 frames/s and >= 2x -> {'met' if ours >= 8 and ours >= 2 * naive else 'NOT met'}")


if __name__ == "__main__":
    main()
