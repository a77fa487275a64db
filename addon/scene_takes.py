"""Takes in the scene: where a shot's take frames live, the takes list, and how the artist sees them.

A take's frames are PNGs named by Blender frame number in
`<output folder>/<shot>/<take>/####.png`. Showing a take puts them in two
places, both keyed by shot so that only that shot's previous take is replaced:

- the scene camera's background images: an image sequence aligned to the
  frame range, so scrubbing the timeline shows the painting over the blocking;
- the Video Sequencer of the shot's review scene (`<scene> Review`, made on
  first use): an image strip on the review channel. Not the shot's own
  sequencer: a strip there would make every render of the scene (F12, a
  farm's `blender -b shot.blend -a`) output the take instead of the 3D scene.

Everything here runs on the main thread (it edits Blender data) and is quick:
images load lazily, nothing decodes a frame.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bpy

from . import compat, preferences
from .files import folder_name, frame_path
from .jobs import Job, ShowControls

# Custom properties that tag the images and strips this add-on owns, with the shot they show.
SHOT_KEY = "underpaint_shot"
TAKE_KEY = "underpaint_take"
# The custom property of a review scene: the name of the scene whose takes it shows.
REVIEW_KEY = "underpaint_review_of"
# The custom property of the mask preview's image: the shot it previews a refine mask of.
MASK_KEY = "underpaint_mask_preview"
# The custom property of a control image sequence (Show Controls): "<shot>:<control>".
CONTROL_KEY = "underpaint_control"


class OutputFolderError(ValueError):
    """Takes have nowhere to go: the .blend is unsaved and the output folder is relative to it."""


def output_root(context: bpy.types.Context | None = None) -> Path:
    """The folder takes are written to: the preferences' output folder, `//` resolved next to the .blend."""
    raw = preferences.setting("output_dir", context) or preferences.DEFAULT_OUTPUT
    if raw.startswith("//") and not bpy.data.filepath:
        raise OutputFolderError(
            f"Save the .blend file first, or set an absolute Output Folder in the Underpaint add-on preferences (or UNDERPAINT_OUTPUT): "
            f"takes are written next to the .blend file ({raw})."
        )
    root = Path(bpy.path.abspath(raw))
    if not root.is_absolute():
        raise OutputFolderError(f"The Output Folder {raw!r} is not an absolute path: choose a folder in the preferences.")
    return root


def shot_name(scene: bpy.types.Scene) -> str:
    """The shot's name in folders, shot.json and on the server: the settings' shot name, else `<blend>-<scene>`.

    New .blend files all have a scene called "Scene": named by the scene alone, two files
    saved in one folder would write one package and share one shot's takes on the server.
    An unsaved file has no name yet and uses the scene's (it cannot write next to itself anyway).
    """
    explicit = scene.underpaint.shot_name.strip()
    if explicit:
        return folder_name(explicit)
    blend = Path(bpy.data.filepath).stem if bpy.data.filepath else ""
    return folder_name(f"{blend}-{scene.name}" if blend else scene.name)


def shot_folder(scene: bpy.types.Scene, context: bpy.types.Context | None = None) -> Path:
    """`<output folder>/<shot>`: the shot's package/ (Export Shot, Stylize) and one folder per take."""
    return output_root(context) / shot_name(scene)


# -- the takes list ----------------------------------------------------------------------------------

def add_take(scene: bpy.types.Scene, take: dict[str, Any], folder: Path) -> int:
    """Record a finished take in the scene's takes list; returns its index."""
    params = take.get("params") or {}
    entry = scene.underpaint.takes.add()
    entry.name = str(take["id"])
    entry.shot = str(take.get("shot") or shot_name(scene))
    entry.kind = str(take.get("kind") or "stylize")
    entry.quality = "draft" if params.get("quality") == "draft" else "final"
    entry.parent = str(take.get("parent") or "")
    entry.prompt = str(params.get("prompt", ""))
    entry.negative_prompt = str(params.get("negative_prompt", ""))
    entry.seed = int(params.get("seed", 0))
    entry.model = str(params.get("model", ""))
    entry.style = ", ".join(f"{s.get('name')}:{s.get('weight', 1.0):g}" for s in params.get("styles") or [])
    entry.created = str(take.get("created") or time.strftime("%Y-%m-%dT%H:%M:%S"))
    entry.directory = str(folder)
    frames = [int(f) for f in take.get("frames") or []]
    entry.frame_start = min(frames) if frames else int(take.get("frame_start", scene.frame_start))
    entry.frame_end = max(frames) if frames else int(take.get("frame_end", scene.frame_end))
    entry.width = int(take.get("width") or params.get("width") or 0)
    entry.height = int(take.get("height") or params.get("height") or 0)
    entry.resize = str((take.get("control") or {}).get("resize", ""))
    _record_flicker(entry, (take.get("metrics") or {}).get("temporal"))
    return len(scene.underpaint.takes) - 1


def _record_flicker(entry: Any, temporal: Any) -> None:
    """The take's `metrics.temporal` (server QC) as the list shows it: median, floor, worst range."""
    if not isinstance(temporal, dict):
        return
    median, floor = temporal.get("median"), (temporal.get("floor") or {}).get("median")
    entry.flicker = float(median) if isinstance(median, int | float) else -1.0
    entry.flicker_floor = float(floor) if isinstance(floor, int | float) else -1.0
    worst = temporal.get("worst_ranges") or []
    if worst and isinstance(worst[0], list | tuple) and len(worst[0]) == 2:
        entry.worst_start, entry.worst_end = int(worst[0][0]), int(worst[0][1])


def take_frames_missing(entry: Any) -> list[int]:
    """Frames of a take that are not on disk (moved output folder, another machine, ...)."""
    folder = Path(entry.directory)
    return [f for f in range(entry.frame_start, entry.frame_end + 1) if not frame_path(folder, f).is_file()]


def show_take(scene: bpy.types.Scene, index: int) -> list[str]:
    """Make take `index` the active one: camera background and review strip. Returns what could not be shown."""
    settings = scene.underpaint
    entry = settings.takes[index]
    settings.active_take = index
    problems = []
    if scene.camera is None or scene.camera.type != "CAMERA":
        problems.append("the scene has no camera to show the take through")
    else:
        show_through_camera(scene.camera.data, entry)
    show_in_sequencer(review_scene(scene), entry, settings.review_channel)
    _remove_strips(scene, entry.shot)  # files from before review scenes kept the strip in the shot itself
    return problems


def apply_finished(scene_name: str, job: Job) -> None:
    """`on_done` of shot jobs: list the new take and show it (main thread, called from `job_timer.tick`)."""
    scene = bpy.data.scenes.get(scene_name)
    if scene is None or job.take is None or job.frames_folder is None:
        return
    index = add_take(scene, job.take, job.frames_folder)
    problems = show_take(scene, index)
    if problems:
        job.message += " (" + "; ".join(problems) + ")"


# -- camera background -------------------------------------------------------------------------------

def _sequence_image(entry: Any) -> bpy.types.Image:
    """The take's frames as one image sequence datablock, tagged with its shot and take."""
    first = frame_path(Path(entry.directory), entry.frame_start)
    for image in bpy.data.images:
        if image.get(SHOT_KEY) == entry.shot and Path(bpy.path.abspath(image.filepath)) == first:
            return image
    image = bpy.data.images.load(str(first), check_existing=False)
    image.name = f"{entry.shot} {entry.name}"
    image.source = "SEQUENCE"
    image[SHOT_KEY] = entry.shot
    image[TAKE_KEY] = entry.name
    return image


def _align(user: bpy.types.ImageUser, entry: Any) -> None:
    """Frame F of the scene shows file F: a sequence starting at F0 whose first file is number F0."""
    user.frame_start = entry.frame_start
    user.frame_duration = entry.frame_end - entry.frame_start + 1
    user.frame_offset = entry.frame_start - 1
    user.use_auto_refresh = True
    user.use_cyclic = False


def show_through_camera(camera: bpy.types.Camera, entry: Any) -> bpy.types.CameraBackgroundImage:
    """Put the take on the camera as a background image, replacing only this shot's previous take."""
    image = _sequence_image(entry)
    background = next((bg for bg in camera.background_images
                       if bg.image is not None and bg.image.get(SHOT_KEY) == entry.shot), None)
    if background is None:
        background = camera.background_images.new()
        background.alpha = 1.0
        background.display_depth = "FRONT"
    previous = background.image
    background.source = "IMAGE"
    background.image = image
    background.frame_method = "CROP" if "crop" in entry.resize else "FIT"
    background.show_background_image = True
    _align(background.image_user, entry)
    camera.show_background_images = True
    if previous is not None and previous != image and previous.users == 0:
        bpy.data.images.remove(previous)
    return background


def show_mask_preview(camera: bpy.types.Camera, shot: str, path: Path) -> bpy.types.CameraBackgroundImage:
    """The refine mask of one frame over the take, as the camera's front background image (this shot's
    previous preview replaced); it shows the whole frame as the camera frames it, like the take."""
    background = next((bg for bg in camera.background_images
                       if bg.image is not None and bg.image.get(MASK_KEY) == shot), None)
    if background is None:
        background = camera.background_images.new()
    previous = background.image
    image = bpy.data.images.load(str(path), check_existing=False)
    image.name = f"{shot} mask preview"
    image[MASK_KEY] = shot
    background.image = image
    background.source = "IMAGE"
    background.alpha = 1.0
    background.display_depth = "FRONT"
    background.frame_method = "FIT"
    background.show_background_image = True
    camera.show_background_images = True
    if previous is not None and previous != image and previous.users == 0:
        bpy.data.images.remove(previous)
    return background


def show_controls(scene_name: str, job: Job) -> None:
    """`on_done` of Show Controls: each fetched control as an image sequence through the camera, the first
    one shown and the others ready to switch on (Camera > Background Images); this shot's earlier ones replaced."""
    scene = bpy.data.scenes.get(scene_name)
    request = job.request
    if scene is None or scene.camera is None or job.state != "done" or not isinstance(request, ShowControls):
        return
    camera = scene.camera.data
    shot = shot_name(scene)
    for background in [bg for bg in camera.background_images
                       if bg.image is not None and str(bg.image.get(CONTROL_KEY, "")).startswith(f"{shot}:")]:
        image = background.image
        camera.background_images.remove(background)
        if image.users == 0:
            bpy.data.images.remove(image)
    first, last = request.frames
    for index, control in enumerate(job.result.get("controls", [])):
        image = bpy.data.images.load(str(frame_path(request.folder / control, first)), check_existing=False)
        image.name = f"{shot} {control}"
        image.source = "SEQUENCE"
        image[CONTROL_KEY] = f"{shot}:{control}"
        background = camera.background_images.new()
        background.image = image
        background.source = "IMAGE"
        background.alpha = 1.0
        background.display_depth = "FRONT"
        background.frame_method = "CROP"  # the server's default fit, as the take's
        background.show_background_image = index == 0
        _align(background.image_user, SimpleNamespace(frame_start=first, frame_end=last))
    camera.show_background_images = True


# -- sequencer -----------------------------------------------------------------------------------------

def review_scene(scene: bpy.types.Scene) -> bpy.types.Scene:
    """The scene whose sequencer shows `scene`'s takes, made on first use; its range, rate and size follow the shot."""
    review = next((s for s in bpy.data.scenes if s.get(REVIEW_KEY) == scene.name), None)
    if review is None:
        review = bpy.data.scenes.new(f"{scene.name} Review")
        review[REVIEW_KEY] = scene.name
    review.frame_start, review.frame_end = scene.frame_start, scene.frame_end
    review.render.fps, review.render.fps_base = scene.render.fps, scene.render.fps_base
    review.render.resolution_x, review.render.resolution_y = scene.render.resolution_x, scene.render.resolution_y
    review.render.resolution_percentage = scene.render.resolution_percentage
    return review


def _remove_strips(scene: bpy.types.Scene, shot: str) -> None:
    """Remove the strips that show `shot` from `scene`'s sequencer (if it has one)."""
    if scene.sequence_editor is None:
        return
    strips = compat.sequencer_strips(scene.sequence_editor)
    for strip in [s for s in strips if s.get(SHOT_KEY) == shot]:
        strips.remove(strip)


def show_in_sequencer(scene: bpy.types.Scene, entry: Any, channel: int) -> Any:
    """An image strip of the take on `scene`'s review channel; this shot's previous review strip is removed."""
    _remove_strips(scene, entry.shot)
    strips = compat.sequencer_strips(scene.sequence_editor or scene.sequence_editor_create())
    folder = Path(entry.directory)
    strip = strips.new_image(
        name=f"{entry.shot} {entry.name}"[:60],
        filepath=str(frame_path(folder, entry.frame_start)),
        channel=channel,
        frame_start=entry.frame_start,
        fit_method="FIT",
    )
    for frame in range(entry.frame_start + 1, entry.frame_end + 1):
        strip.elements.append(frame_path(folder, frame).name)
    strip[SHOT_KEY] = entry.shot
    strip[TAKE_KEY] = entry.name
    return strip
