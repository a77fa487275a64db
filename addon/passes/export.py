"""Export a shot package: the steps, top to bottom.

1. Check the request (camera, frames, view layer, size, folder, bone overrides).
2. Number the renderable objects for the index pass and set up the temporary
   render scenes (the artist's scene is never changed; everything is undone on exit).
3. Per frame: evaluate the frame, record the camera, render the data EXR once,
   read its depth and index back for the pose, render the colour PNG if asked.
4. Write pose.json, then shot.json last (its presence marks a complete package).

`iter_export` is a generator that yields after every frame, so the UI can run
it from a modal timer with a progress bar and Esc; `export_shot` runs it to the
end (scripts, the command line, other operators).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bpy

from . import exr, records, render_setup, writer
from .bone_maps import RigMap
from .camera import Projection, gather_camera
from .objects import indexed_objects, owned_indices, rendered_objects, temporary_pass_indices
from .options import ExportCancelled, ExportError, ExportOptions
from .pose import RenderedSurface, armature_rig, gather_armature_pose, pixel_rows, project_joints

ProgressCallback = Callable[[int, int], None]
DEFAULT_OPTIONS = ExportOptions()


@dataclass(frozen=True)
class _Request:
    """A checked export request."""

    directory: Path
    frames: range
    view_layer: str
    size: tuple[int, int]
    shot_name: str
    rigs: tuple[tuple[bpy.types.Object, RigMap], ...]  # armatures with a joint map, by name


def _view_layer(scene: bpy.types.Scene, wanted: str | None) -> str:
    if wanted is not None:
        if wanted not in scene.view_layers:
            raise ExportError(f"scene {scene.name!r} has no view layer {wanted!r}")
        return wanted
    for layer in scene.view_layers:
        if layer.use:
            return layer.name
    raise ExportError(f"no view layer of scene {scene.name!r} is enabled for rendering")


def _size(scene: bpy.types.Scene, wanted: tuple[int, int] | None) -> tuple[int, int]:
    render = scene.render
    width, height = wanted or (render.resolution_x * render.resolution_percentage // 100,
                               render.resolution_y * render.resolution_percentage // 100)
    if not (0 < width <= 16384 and 0 < height <= 16384):
        raise ExportError(f"cannot export at {width}x{height} pixels (1 to 16384 per side)")
    return width, height


def _rigs(
    scene: bpy.types.Scene, view_layer: str, options: ExportOptions
) -> tuple[tuple[bpy.types.Object, RigMap], ...]:
    if not options.pose:
        return ()
    armatures = [obj for obj in rendered_objects(scene.view_layers[view_layer]) if obj.type == "ARMATURE"]
    rigs = ((obj, armature_rig(obj)) for obj in armatures)
    return tuple((obj, rig) for obj, rig in rigs if rig is not None)


def shot_rigs(scene: bpy.types.Scene) -> tuple[tuple[bpy.types.Object, RigMap], ...]:
    """The rigs the pose pass would read in the scene's rendered view layer (none: the shot has no pose)."""
    return _rigs(scene, _view_layer(scene, None), ExportOptions(pose=True))


def check_request(
    scene: bpy.types.Scene, directory: str | Path, frame_start: int, frame_end: int, options: ExportOptions
) -> _Request:
    """Everything that can be wrong before rendering, as an `ExportError` the artist can act on."""
    if scene.camera is None:
        raise ExportError(f"scene {scene.name!r} has no camera: set one in Scene Properties > Scene > Camera")
    if scene.camera.type != "CAMERA":
        raise ExportError(f"the scene camera {scene.camera.name!r} is a {scene.camera.type.lower()}, not a camera")
    if frame_end < frame_start:
        raise ExportError(f"no frames to export: the range {frame_start}-{frame_end} is empty")
    if not str(directory).strip():
        raise ExportError("no folder given for the shot package")
    if str(directory).startswith("//") and not bpy.data.filepath:
        raise ExportError(f"the folder {directory} is relative to the .blend file, which is not saved yet")
    view_layer = _view_layer(scene, options.view_layer)
    return _Request(
        directory=Path(bpy.path.abspath(str(directory))), frames=range(frame_start, frame_end + 1),
        view_layer=view_layer, size=_size(scene, options.resolution),
        shot_name=options.shot_name or scene.name, rigs=_rigs(scene, view_layer, options),
    )


def _render_file(scene: bpy.types.Scene, final: Path, root: Path) -> dict[str, str]:
    partial = writer.partial_path(final)
    render_setup.render_to(scene, partial)
    if final.suffix == ".exr":
        exr.clear_render_times(partial)
    writer.commit(partial, final)
    return writer.file_record(root, final)


def _rendered_surface(path: Path, passes: dict[str, Any], rows: set[int]) -> RenderedSurface:
    depth, index = passes["depth"]["channels"][0], passes["object_index"]["channels"][0]
    channels = exr.read_channels(path, [depth, index], rows)
    return RenderedSurface(channels[depth], channels[index])


def iter_export(
    scene: bpy.types.Scene, directory: str | Path, frame_start: int, frame_end: int,
    options: ExportOptions = DEFAULT_OPTIONS,
) -> Generator[tuple[int, int], None, Path]:
    """Export frame by frame, yielding (frames done, frames in all); returns the path of shot.json."""
    # 1. Check the request and prepare the folder.
    request = check_request(scene, directory, frame_start, frame_end, options)
    root = request.directory
    writer.prepare_directory(root, ("passes", "color") if options.color else ("passes",))
    layer = scene.view_layers[request.view_layer]
    with ExitStack() as undo:
        # 2. Object indices and the temporary render scenes.
        undo.enter_context(render_setup.user_frame_restored(scene))
        table = undo.enter_context(temporary_pass_indices(indexed_objects(layer)))
        override = undo.enter_context(render_setup.camera_normal_material())
        data_scene = undo.enter_context(render_setup.temporary_copy(scene, "Underpaint Data Render"))
        render_setup.configure_data_render(data_scene, request.view_layer, request.size, options.motion, override)
        color_scene = None
        if options.color:
            color_scene = undo.enter_context(render_setup.temporary_copy(scene, "Underpaint Colour Render"))
            render_setup.configure_color_render(color_scene, request.view_layer, request.size)
        depsgraph = data_scene.view_layers[request.view_layer].depsgraph
        own = [owned_indices(armature, table) for armature, _rig in request.rigs]

        # 3. Frame by frame.
        passes: dict[str, Any] = {}
        frames, pose_frames = [], []
        for done, frame in enumerate(request.frames, start=1):
            data_scene.frame_set(frame)
            camera = data_scene.camera.evaluated_get(depsgraph)
            exr_path = root / "passes" / f"{frame:04d}.exr"
            exr_file = _render_file(data_scene, exr_path, root)
            passes = passes or records.gather_passes(exr.channel_names(exr_path), request.view_layer,
                                                     options.motion)
            if request.rigs:
                projection = Projection.of(camera, depsgraph, data_scene)
                joints = [project_joints(armature.evaluated_get(depsgraph), rig, projection)
                          for armature, rig in request.rigs]
                surface = _rendered_surface(exr_path, passes, pixel_rows(joints, projection))
                poses = [gather_armature_pose(armature.name, joint_set, projection, surface, own_set)
                         for (armature, _rig), joint_set, own_set in zip(request.rigs, joints, own, strict=True)]
                pose_frames.append(records.gather_pose_frame(frame, poses))
            color_file = None
            if color_scene is not None:
                color_scene.frame_current = frame
                color_file = _render_file(color_scene, root / "color" / f"{frame:04d}.png", root)
            frames.append(records.gather_frame(frame, exr_file, gather_camera(camera), color_file))
            yield done, len(request.frames)

        # 4. pose.json, then shot.json.
        pose_file = None
        if request.rigs:
            writer.write_json(root / "pose.json", records.gather_pose_file(pose_frames))
            pose_file = writer.file_record(root, root / "pose.json")
        shot = records.gather_shot(
            scene, request.shot_name, request.size, (request.frames.start, request.frames.stop - 1),
            passes=passes, objects=records.gather_objects(table),
            armatures=[records.gather_armature(armature.name, rig) for armature, rig in request.rigs],
            pose=pose_file, frames=frames,
        )
    writer.write_json(root / "shot.json", shot, indent=1)
    return root / "shot.json"


def export_shot(
    scene: bpy.types.Scene, directory: str | Path, frame_start: int, frame_end: int,
    options: ExportOptions = DEFAULT_OPTIONS, progress: ProgressCallback | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> Path:
    """Export the shot package to `directory` and return the path of its shot.json.

    `progress(done, total)` is called after every frame; when `should_cancel()` returns True the export
    stops before the next frame with `ExportCancelled`. Raises `ExportError` for anything the artist can fix.
    """
    steps = iter_export(scene, directory, frame_start, frame_end, options)
    try:
        while True:
            if should_cancel is not None and should_cancel():
                raise ExportCancelled("the export was cancelled; the package is incomplete (no shot.json)")
            try:
                done, total = next(steps)
            except StopIteration as finished:
                return finished.value
            if progress is not None:
                progress(done, total)
    finally:
        steps.close()
