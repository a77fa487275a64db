"""What a job sends: the panel's settings as job parameters, and which frames and objects it targets.

Kept apart from the operators so that what the server receives reads in one
place, and tests can check it without a server.
"""

from __future__ import annotations

import random
from typing import Any

import bpy


class UserError(Exception):
    """Something the artist must change before the job can start; the message says what."""


def prompt_of(settings: Any) -> str:
    """The prompt: the text block's contents when one is chosen, else the one-line prompt."""
    if settings.prompt_text is not None:
        return settings.prompt_text.as_string().strip()
    return settings.prompt.strip()


def paint_params(settings: Any) -> dict[str, Any]:
    """The stylize parameters from the panel (also the overrides of re-render and refine)."""
    prompt = prompt_of(settings)
    if not prompt:
        raise UserError("Write a prompt first: what should the painted shot look like?")
    if settings.width % 8 or settings.height % 8:
        raise UserError(f"Width and height must be multiples of 8 (now {settings.width} x {settings.height}).")
    if not settings.seed_lock:
        settings.seed = random.randrange(0, 2**31 - 1)
    controls = {
        name: {"weight": round(getattr(settings, f"{name}_weight"), 4), "start": 0.0, "end": 1.0}
        for name in ("depth", "normal", "pose") if getattr(settings, f"use_{name}")
    }
    params: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": settings.negative_prompt,
        "seed": settings.seed,
        "steps": settings.steps,
        "guidance": round(settings.guidance, 4),
        "width": settings.width,
        "height": settings.height,
        "controls": controls,
        "use_color": settings.use_color,
        "strength": round(settings.strength, 4),
        "styles": [{"name": settings.style, "weight": round(settings.style_strength, 4)}] if settings.style else [],
    }
    return params


def edit_params(settings: Any, take: Any) -> dict[str, Any]:
    """An edit of `take`: the panel's paint settings override the parent's, except its size (kept)."""
    params = paint_params(settings)
    del params["width"], params["height"]
    return params | {"parent_take": take.name}


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
