"""`Scene.underpaint`: the shot's stylize settings and its takes, in one property group.

The controls are a collection drawn from the chosen model set's entry in the server's
health (`controls.sync`); the properties they replaced (`use_depth`, `depth_weight`, ...)
stay registered, hidden, so old .blend files load, and are migrated into it once.
"""

from __future__ import annotations

import bpy


class UNDERPAINT_PG_take(bpy.types.PropertyGroup):
    """A take the server painted for this scene; `name` is the take id."""

    shot: bpy.props.StringProperty(name="Shot")  # type: ignore[valid-type]
    prompt: bpy.props.StringProperty(name="Prompt")  # type: ignore[valid-type]
    seed: bpy.props.IntProperty(name="Seed")  # type: ignore[valid-type]
    model: bpy.props.StringProperty(name="Model")  # type: ignore[valid-type]
    style: bpy.props.StringProperty(name="Style")  # type: ignore[valid-type]
    kind: bpy.props.StringProperty(name="Kind")  # type: ignore[valid-type]
    quality: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Quality", default="final", description="draft (the model set's draft models) or final"
    )
    parent: bpy.props.StringProperty(name="Parent Take")  # type: ignore[valid-type]
    created: bpy.props.StringProperty(name="Created")  # type: ignore[valid-type]
    directory: bpy.props.StringProperty(name="Frames Folder", subtype="DIR_PATH")  # type: ignore[valid-type]
    frame_start: bpy.props.IntProperty(name="First Frame")  # type: ignore[valid-type]
    frame_end: bpy.props.IntProperty(name="Last Frame")  # type: ignore[valid-type]
    negative_prompt: bpy.props.StringProperty(name="Negative Prompt")  # type: ignore[valid-type]
    width: bpy.props.IntProperty(name="Width")  # type: ignore[valid-type]
    height: bpy.props.IntProperty(name="Height")  # type: ignore[valid-type]
    resize: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Resize", description="How the server fitted the shot to the generation size (crop or letterbox)"
    )
    flicker: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Flicker", default=-1.0,
        description="Median change between frames along the shot's motion, in 8-bit levels (-1: not measured)",
    )
    flicker_floor: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Flicker Floor", default=-1.0,
        description="The same figure for the shot's own colour render: what a steady painting can reach",
    )
    worst_start: bpy.props.IntProperty(name="Worst Range Start", default=0)  # type: ignore[valid-type]
    worst_end: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Worst Range End", default=-1, description="Last frame of the worst range (before the start: none)"
    )


class UNDERPAINT_PG_job(bpy.types.PropertyGroup):
    """The last job of one kind in this scene, as the panel and status bar show it."""

    state: bpy.props.StringProperty(name="State", default="")  # type: ignore[valid-type]
    kind: bpy.props.StringProperty(name="Kind", default="")  # type: ignore[valid-type]
    progress: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Progress", default=0.0, min=0.0, max=1.0, subtype="FACTOR"
    )
    message: bpy.props.StringProperty(name="Message", default="")  # type: ignore[valid-type]
    server_job: bpy.props.StringProperty(name="Server Job")  # type: ignore[valid-type]
    error_code: bpy.props.StringProperty(name="Error Code")  # type: ignore[valid-type]


class UNDERPAINT_PG_control(bpy.types.PropertyGroup):
    """One control of the chosen model set (`name` is its name in job params): on or off, and its weight."""

    label: bpy.props.StringProperty(name="Label")  # type: ignore[valid-type]
    enabled: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Use", description="Steer the painting with this control", default=False
    )
    weight: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Weight", description="How strongly this control steers the painting", default=1.0, min=0.0, max=2.0
    )
    # Whether the chosen model set has this control; the others keep their settings for another set.
    available: bpy.props.BoolProperty(name="Available", default=True, options={"HIDDEN"})  # type: ignore[valid-type]


def _model_changed(self: bpy.types.PropertyGroup, _context: bpy.types.Context) -> None:
    from . import controls, server_status

    controls.sync(self, server_status.STATUS.model_set(self.model))


def _search_models(_self: bpy.types.PropertyGroup, _context: bpy.types.Context, _text: str) -> list[str]:
    from . import server_status  # the server's model sets, as last reported by its health check

    return server_status.STATUS.model_names()


def _search_styles(_self: bpy.types.PropertyGroup, _context: bpy.types.Context, _text: str) -> list[str]:
    from . import server_status

    return list(server_status.STATUS.styles)


class UNDERPAINT_PG_settings(bpy.types.PropertyGroup):
    """What the next Stylize uses. Defaults suit a first try on a default model set."""

    prompt: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Prompt", description="What the painting should look like", default=""
    )
    negative_prompt: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Negative Prompt", description="What to keep out of the painting", default="blurry, low quality"
    )
    model: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Model Set", description="Model set name on the server (empty = the server's default)", default="",
        search=_search_models,
    )
    style: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Style", description="Trained style (LoRA) to paint with (empty = none)", default="",
        search=_search_styles,
    )
    style_strength: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Style Strength", default=0.8, min=0.0, soft_max=1.5
    )
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)  # type: ignore[valid-type]
    seed_lock: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Lock Seed", description="Keep the seed; otherwise each Stylize picks a new one", default=False
    )
    temporal_qc: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Temporal QC", default=True,
        description="Export motion vectors with the shot, so every take records its flicker along the scene's "
        "true motion and Worst Range can find the frames to re-render (costs export time)",
    )
    use_color: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Video to Video", description="Start from the rough colour render of the blocking", default=False
    )
    strength: bpy.props.FloatProperty(  # type: ignore[valid-type]
        name="Strength",
        description="How far video-to-video may move away from the colour render",
        default=0.6, min=0.0, max=1.0,
    )
    draft: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Draft",
        description="Paint with the model set's step-distilled draft models: a few steps without guidance, "
        "seconds on a GPU. Steps and Guidance stay for the final: turn Draft off and Re-render Range",
        default=False,
    )
    cache: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Step Cache",
        description="Reuse predicted model work between denoising steps: faster, slightly different (model "
        "sets that offer it, such as Wan VACE)",
        default=False,
    )
    controls: bpy.props.CollectionProperty(type=UNDERPAINT_PG_control)  # type: ignore[valid-type]
    controls_migrated: bpy.props.BoolProperty(default=False, options={"HIDDEN"})  # type: ignore[valid-type]
    # Before the controls came from the server; read once by `controls.sync` (old .blend files).
    use_depth: bpy.props.BoolProperty(name="Depth", default=True, options={"HIDDEN"})  # type: ignore[valid-type]
    depth_weight: bpy.props.FloatProperty(name="Depth Weight", default=1.0, options={"HIDDEN"})  # type: ignore[valid-type]
    use_normal: bpy.props.BoolProperty(name="Normal", default=False, options={"HIDDEN"})  # type: ignore[valid-type]
    normal_weight: bpy.props.FloatProperty(name="Normal Weight", default=0.7, options={"HIDDEN"})  # type: ignore[valid-type]
    use_pose: bpy.props.BoolProperty(name="Pose", default=True, options={"HIDDEN"})  # type: ignore[valid-type]
    pose_weight: bpy.props.FloatProperty(name="Pose Weight", default=1.0, options={"HIDDEN"})  # type: ignore[valid-type]
    size_mode: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Size",
        items=(("AUTO", "Auto", "The camera's aspect at the model set's native size"),
               ("CUSTOM", "Custom", "The width and height given here")),
        default="AUTO",
    )
    width: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Width", description="Generation width in pixels (a multiple of the model set's size step)",
        default=512, min=64, max=2048, step=8,
    )
    height: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Height", description="Generation height in pixels (a multiple of the model set's size step)",
        default=288, min=64, max=2048, step=8,
    )
    steps: bpy.props.IntProperty(name="Steps", default=20, min=1, max=150)  # type: ignore[valid-type]
    guidance: bpy.props.FloatProperty(name="Guidance", default=7.5, min=0.0, max=30.0)  # type: ignore[valid-type]
    takes: bpy.props.CollectionProperty(type=UNDERPAINT_PG_take)  # type: ignore[valid-type]
    active_take: bpy.props.IntProperty(name="Active Take", default=-1)  # type: ignore[valid-type]
    prompt_text: bpy.props.PointerProperty(  # type: ignore[valid-type]
        name="Prompt Text", type=bpy.types.Text,
        description="A text block holding a long, multi-line prompt (used instead of the one-line prompt)",
    )
    shot_name: bpy.props.StringProperty(  # type: ignore[valid-type]
        name="Shot", description="Shot name for take folders and the server (empty = <.blend file name>-<scene name>)", default=""
    )
    use_custom_range: bpy.props.BoolProperty(  # type: ignore[valid-type]
        name="Custom Range",
        description="Stylize these frames instead of the scene's range (or its preview range when that is on)",
        default=False,
    )
    frame_start: bpy.props.IntProperty(name="Start", default=1)  # type: ignore[valid-type]
    frame_end: bpy.props.IntProperty(name="End", default=48)  # type: ignore[valid-type]
    review_channel: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Review Channel",
        description="Channel, in the sequencer of the shot's review scene ('<scene> Review'), that holds the active take",
        default=8, min=1, max=128,
    )
    preview_steps: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Preview Steps",
        description="Denoising steps of Preview Frame (at most the shot's steps): fewer is faster and rougher",
        default=8, min=1, max=150,
    )
    mask_dilate: bpy.props.IntProperty(  # type: ignore[valid-type]
        name="Mask Grow", description="Grow the refine mask by this many pixels", default=4, min=0, max=64
    )
    refine_source: bpy.props.EnumProperty(  # type: ignore[valid-type]
        name="Refine",
        description="What Refine Region repaints",
        items=(
            ("AUTO", "Auto", "The chosen Mask; else the selected bones in Pose Mode; else the selected objects"),
            ("OBJECTS", "Objects", "The selected objects (a selected armature stands for its meshes)"),
            ("BONES", "Bones", "A capsule around each selected pose bone, following the rig through the shot"),
            ("MASK", "Mask", "The Mask below, drawn and animated in the Image or Movie Clip editor, feather included"),
        ),
        default="AUTO",
    )
    refine_mask: bpy.props.PointerProperty(  # type: ignore[valid-type]
        name="Mask", type=bpy.types.Mask,
        description="A Mask drawn in the Image or Movie Clip editor: Refine Region repaints inside it",
    )
    job: bpy.props.PointerProperty(type=UNDERPAINT_PG_job)  # type: ignore[valid-type]
    style_job: bpy.props.PointerProperty(type=UNDERPAINT_PG_job)  # type: ignore[valid-type]


classes = (UNDERPAINT_PG_take, UNDERPAINT_PG_job, UNDERPAINT_PG_control, UNDERPAINT_PG_settings)


def attach() -> None:
    bpy.types.Scene.underpaint = bpy.props.PointerProperty(type=UNDERPAINT_PG_settings)


def detach() -> None:
    del bpy.types.Scene.underpaint
