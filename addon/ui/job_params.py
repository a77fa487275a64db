"""What a job sends: the panel's settings as the job module's requests, and which frames and objects
it targets.

Kept apart from the operators so that what the server receives reads in one
place, and tests can check it without a server.
"""

from __future__ import annotations

import random
from typing import Any

import bpy

from .. import compat, controls
from ..jobs import Control, Paint, Style
from ..model_sets import DEFAULT_SIZE_MULTIPLE, ModelSet, can


class UserError(Exception):
    """Something the artist must change before the job can start; the message says what."""


def prompt_of(settings: Any) -> str:
    """The prompt: the text block's contents when one is chosen, else the one-line prompt."""
    if settings.prompt_text is not None:
        return settings.prompt_text.as_string().strip()
    return settings.prompt.strip()


def paint(settings: Any, model_set: ModelSet | None) -> Paint:
    """The paint settings from the panel (stylize's, and the overrides of re-render and refine).

    The controls sent are those switched on that `model_set` has (when the server lists them; else the
    panel's); a style or video-to-video only where the set can use them (the panel hides them otherwise).
    An unlocked seed is drawn anew here, and shown in the panel.
    """
    prompt = prompt_of(settings)
    if not prompt:
        raise UserError("Write a prompt first: what should the painted shot look like?")
    if not settings.seed_lock:
        settings.seed = random.randrange(0, 2**31 - 1)
    return Paint(
        prompt=prompt,
        negative_prompt=settings.negative_prompt,
        seed=settings.seed,
        steps=settings.steps,
        guidance=settings.guidance,
        controls=tuple(Control(item.name, item.weight) for item in _controls(settings, model_set) if item.enabled),
        use_color=settings.use_color and can(model_set, "video2video"),
        strength=settings.strength,
        styles=(Style(settings.style, settings.style_strength),) if settings.style and can(model_set, "styles") else (),
        cache=settings.cache and can(model_set, "cache", default=False),
        quality="draft" if settings.draft and can(model_set, "draft", default=False) else "final",
    )


def _controls(settings: Any, model_set: ModelSet | None) -> list[Any]:
    if model_set is None or model_set.controls is None:
        return controls.shown(settings)
    names = {spec.name for spec in model_set.controls}
    return [item for item in settings.controls if item.name in names]


def camera_aspect(scene: bpy.types.Scene) -> float:
    """Width over height of the scene camera's picture (the render size, pixel aspect included)."""
    render = scene.render
    return (render.resolution_x * render.pixel_aspect_x) / max(render.resolution_y * render.pixel_aspect_y, 1e-6)


def generation_size(scene: bpy.types.Scene, model_set: ModelSet | None) -> tuple[int, int]:
    """The size to paint at: AUTO is the camera's aspect at the model set's native size; CUSTOM, or a
    server that gives no native size, is the width and height in the settings."""
    settings = scene.underpaint
    if settings.size_mode == "AUTO" and model_set is not None:
        size = model_set.auto_size(camera_aspect(scene))
        if size is not None:
            return size
    step = model_set.size_multiple if model_set is not None else DEFAULT_SIZE_MULTIPLE
    if settings.width % step or settings.height % step:
        raise UserError(f"Width and height must be multiples of {step} (now {settings.width} x {settings.height}).")
    return settings.width, settings.height


def shot_range(scene: bpy.types.Scene) -> tuple[int, int]:
    """Frames to stylize: the panel's custom range, else the preview range when on, else the scene's range."""
    settings = scene.underpaint
    if settings.use_custom_range:
        start, end = settings.frame_start, settings.frame_end
    elif scene.use_preview_range:
        start, end = scene.frame_preview_start, scene.frame_preview_end
    else:
        start, end = scene.frame_start, scene.frame_end
    if end < start:
        raise UserError(f"The frame range {start}-{end} is empty: its end comes before its start.")
    return start, end


def edit_range(scene: bpy.types.Scene) -> tuple[int, int] | None:
    """The frames an edit targets: the preview range when on, else the span of the selected timeline markers."""
    if scene.use_preview_range:
        return scene.frame_preview_start, scene.frame_preview_end
    selected = [m.frame for m in scene.timeline_markers if m.select]
    return (min(selected), max(selected)) if selected else None


# Frames Preview Frame paints when the model set does not say its window.
PREVIEW_WINDOW = 8


def preview_range(current: int, window: int | None, first: int, last: int) -> tuple[int, int]:
    """One engine window of frames around `current`, inside first..last: what Preview Frame paints."""
    size = max(1, window or PREVIEW_WINDOW)
    start = max(first, min(current - size // 2, last - size + 1))
    return start, min(last, start + size - 1)


def refine_source(context: bpy.types.Context) -> str:
    """OBJECTS, BONES or MASK: the panel's choice, or for Auto what the artist has (a Mask chosen,
    else selected bones in Pose Mode, else the selected objects)."""
    settings = context.scene.underpaint
    if settings.refine_source != "AUTO":
        return str(settings.refine_source)
    if settings.refine_mask is not None:
        return "MASK"
    armature = context.active_object
    if context.mode == "POSE" and armature is not None and armature.type == "ARMATURE" and any(
        compat.pose_bone_selected(bone) for bone in armature.pose.bones
    ):
        return "BONES"
    return "OBJECTS"


def refine_objects(context: bpy.types.Context) -> list[str]:
    """Names of the objects to repaint: the selection, with a selected armature standing for its meshes."""
    names: list[str] = []
    for obj in context.view_layer.objects.selected:
        if obj.type == "ARMATURE":
            names += [child.name for child in obj.children_recursive if child.type == "MESH"]
        elif obj.type not in ("CAMERA", "LIGHT", "EMPTY", "SPEAKER", "LIGHT_PROBE"):
            names.append(obj.name)
    return sorted(set(names))


def active_take(scene: bpy.types.Scene) -> Any:
    settings = scene.underpaint
    if not 0 <= settings.active_take < len(settings.takes):
        raise UserError("There is no active take: Stylize the shot first, or load a take from the list.")
    return settings.takes[settings.active_take]
