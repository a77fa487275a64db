"""Blocking scenes built by code: the demo's shot and the add-on tests' fixtures.

No binary .blend lives in git; every scene is made here from primitives, so a
test says exactly what it measures (a plane 4 m in front of the camera, a cube
that flies off) and the demo can be rebuilt on any Blender from 4.2 on.

Conventions: Z up, a character faces -Y (Blender's "front"), one unit = 1 m.
Every builder takes the scene to build into and returns what it made.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

import bmesh
import bpy
from mathutils import Euler, Matrix, Vector

Vec3 = tuple[float, float, float]

# --- scenes, cameras, props -------------------------------------------------------------------------------


def new_scene(
    name: str, *, resolution: tuple[int, int] = (128, 128), frames: tuple[int, int] = (1, 8), fps: int = 24
) -> bpy.types.Scene:
    """An empty scene that becomes the window's scene (operators and edit mode act on it)."""
    scene = bpy.data.scenes.new(name)
    scene.render.resolution_x, scene.render.resolution_y = resolution
    scene.render.resolution_percentage = 100
    scene.frame_start, scene.frame_end = frames
    scene.frame_current = frames[0]
    scene.render.fps = fps
    window = bpy.context.window_manager.windows[0] if bpy.context.window_manager.windows else None
    if window is not None:
        window.scene = scene
    return scene


def _link(scene: bpy.types.Scene, obj: bpy.types.Object) -> bpy.types.Object:
    scene.collection.objects.link(obj)
    return obj


def point_at(obj: bpy.types.Object, target: Sequence[float]) -> None:
    """Turn a camera (or anything looking down its -Z) towards a point, keeping +Y up."""
    direction = Vector(target) - obj.location
    obj.rotation_euler = direction.to_track_quat("-Z", "Y").to_euler()


def add_camera(
    scene: bpy.types.Scene, location: Sequence[float], target: Sequence[float], *, lens: float = 35.0,
    name: str = "Camera",
) -> bpy.types.Object:
    """A perspective camera at `location` looking at `target`, made the scene camera."""
    data = bpy.data.cameras.new(name)
    data.lens = lens
    camera = _link(scene, bpy.data.objects.new(name, data))
    camera.location = location
    point_at(camera, target)
    scene.camera = camera
    return camera


def _mesh_object(
    scene: bpy.types.Scene, name: str, build: Callable[[bmesh.types.BMesh], object], *, smooth: bool = False
) -> bpy.types.Object:
    bm = bmesh.new()
    build(bm)
    mesh = bpy.data.meshes.new(name)
    bm.to_mesh(mesh)
    bm.free()
    for polygon in mesh.polygons:
        polygon.use_smooth = smooth
    return _link(scene, bpy.data.objects.new(name, mesh))


def add_plane(
    scene: bpy.types.Scene, name: str, size: float, location: Sequence[float], rotation: Vec3 = (0.0, 0.0, 0.0)
) -> bpy.types.Object:
    """A square plane; unrotated it lies flat with its normal along +Z."""
    obj = _mesh_object(scene, name, lambda bm: bmesh.ops.create_grid(bm, x_segments=1, y_segments=1, size=size / 2))
    obj.location = location
    obj.rotation_euler = rotation
    return obj


def add_facing_plane(
    scene: bpy.types.Scene, camera: bpy.types.Object, distance: float, size: float, name: str = "Backdrop"
) -> bpy.types.Object:
    """A plane `distance` in front of the camera, parallel to its image plane, its normal towards the camera."""
    obj = add_plane(scene, name, size, (0.0, 0.0, 0.0))
    # matrix_basis, not matrix_world: the world matrix is only updated when the scene is next evaluated.
    obj.matrix_world = camera.matrix_basis @ Matrix.Translation((0.0, 0.0, -distance))
    return obj


def add_box(
    scene: bpy.types.Scene, name: str, size: Sequence[float], location: Sequence[float]
) -> bpy.types.Object:
    """An axis-aligned box of `size` (x, y, z) centred on `location`."""
    obj = _mesh_object(scene, name, lambda bm: bmesh.ops.create_cube(bm, size=1.0))
    obj.scale = size
    obj.location = location
    return obj


def add_sphere(
    scene: bpy.types.Scene, name: str, radius: float, location: Sequence[float]
) -> bpy.types.Object:
    """A smooth-shaded UV sphere."""
    obj = _mesh_object(
        scene, name,
        lambda bm: bmesh.ops.create_uvsphere(bm, u_segments=24, v_segments=12, radius=radius),
        smooth=True,
    )
    obj.location = location
    return obj


def keyframe_path(obj: bpy.types.Object, path: Mapping[int, Sequence[float]]) -> None:
    """Keyframe `obj.location` at each frame of `path` (Blender interpolates between them)."""
    for frame, location in sorted(path.items()):
        obj.location = location
        obj.keyframe_insert("location", frame=frame)


# --- characters -------------------------------------------------------------------------------------------

# Rest skeleton in armature space (character faces -Y): joint positions of a 1.85 m figure, arms down.
_PELVIS, _NECK_BASE, _HEAD_BASE, _HEAD_TOP = (0.0, 0.0, 1.0), (0.0, 0.0, 1.45), (0.0, 0.0, 1.6), (0.0, 0.0, 1.85)
_SIDED_JOINTS: dict[str, Vec3] = {  # the left side (+X); the right side mirrors X
    "clavicle": (0.03, 0.0, 1.42), "shoulder": (0.2, 0.0, 1.42), "elbow": (0.23, 0.02, 1.15),
    "wrist": (0.25, 0.0, 0.9), "fingers": (0.26, 0.0, 0.8), "hip": (0.1, 0.0, 0.95), "knee": (0.1, -0.02, 0.52),
    "ankle": (0.1, 0.02, 0.1), "toe": (0.1, -0.12, 0.02), "eye": (0.035, -0.09, 1.7),
    "eye_front": (0.035, -0.11, 1.7), "ear": (0.085, 0.0, 1.68), "ear_tip": (0.1, 0.02, 1.72),
}
_NOSE_BRIDGE, _NOSE_TIP = (0.0, -0.1, 1.7), (0.0, -0.13, 1.65)

# Sided limb bones: (role, head joint, tail joint, parent role).
_LIMBS = (
    ("clavicle", "clavicle", "shoulder", "chest"), ("upper_arm", "shoulder", "elbow", "clavicle"),
    ("forearm", "elbow", "wrist", "upper_arm"), ("hand", "wrist", "fingers", "forearm"),
    ("thigh", "hip", "knee", "pelvis"), ("shin", "knee", "ankle", "thigh"), ("foot", "ankle", "toe", "shin"),
)


class RigNaming:
    """How one rig convention names the roles of the shared skeleton.

    `torso` and `neck` are bone chains (pelvis to neck base, neck base to head base);
    `sided` maps a limb or face role to a name pattern with {S} (L/R), {s} (l/r) or {Side} (Left/Right).
    Roles missing from `sided` (or a None face bone) are not built.
    """

    def __init__(
        self, style: str, torso: Sequence[str], neck: Sequence[str], head: str, sided: Mapping[str, str],
        nose: str | None = None, extra: Sequence[str] = (),
    ) -> None:
        self.style, self.torso, self.neck, self.head = style, tuple(torso), tuple(neck), head
        self.sided, self.nose, self.extra = dict(sided), nose, tuple(extra)

    def side(self, role: str, side: str) -> str | None:
        pattern = self.sided.get(role)
        if pattern is None:
            return None
        return pattern.format(S=side, s=side.lower(), Side="Left" if side == "L" else "Right")


_RIGIFY_SIDED = {
    "clavicle": "shoulder.{S}", "upper_arm": "upper_arm.{S}", "forearm": "forearm.{S}", "hand": "hand.{S}",
    "thigh": "thigh.{S}", "shin": "shin.{S}", "foot": "foot.{S}", "eye": "eye.{S}", "ear": "ear.{S}",
}
_RIGIFY_SPINE = [f"spine.{i:03d}" if i else "spine" for i in range(7)]


def _prefixed(prefix: str, names: Mapping[str, str]) -> dict[str, str]:
    return {role: prefix + name for role, name in names.items()}


RIG_NAMINGS: dict[str, RigNaming] = {
    # The Rigify human metarig, as the artist edits it before generating.
    "rigify_metarig": RigNaming("rigify_metarig", _RIGIFY_SPINE[:4], _RIGIFY_SPINE[4:6], _RIGIFY_SPINE[6],
                                _RIGIFY_SIDED, nose="nose", extra=("face",)),
    # A generated Rigify rig: deform bones (DEF-) on the body, originals (ORG-) for the face, plus controls.
    "rigify": RigNaming(
        "rigify", ["DEF-" + n for n in _RIGIFY_SPINE[:4]], ["DEF-" + n for n in _RIGIFY_SPINE[4:6]],
        "DEF-" + _RIGIFY_SPINE[6],
        {**_prefixed("DEF-", {k: v for k, v in _RIGIFY_SIDED.items() if k not in ("eye", "ear")}),
         "eye": "ORG-eye.{S}", "ear": "ORG-ear.{S}"},
        nose="ORG-nose", extra=("root", "torso", "ORG-face"),
    ),
    # Mixamo: every bone carries the `mixamorig:` namespace; eyes but no ears or nose.
    "mixamo": RigNaming(
        "mixamo", ["mixamorig:Hips", "mixamorig:Spine", "mixamorig:Spine1", "mixamorig:Spine2"],
        ["mixamorig:Neck"], "mixamorig:Head",
        _prefixed("mixamorig:", {
            "clavicle": "{Side}Shoulder", "upper_arm": "{Side}Arm", "forearm": "{Side}ForeArm",
            "hand": "{Side}Hand", "thigh": "{Side}UpLeg", "shin": "{Side}Leg", "foot": "{Side}Foot",
            "eye": "{Side}Eye",
        }),
        extra=("mixamorig:HeadTop_End",),
    ),
    # Game-engine style with _l/_r suffixes (Unreal mannequin names), no face bones.
    "suffix_lr": RigNaming(
        "left_right", ["pelvis", "spine_01", "spine_02"], ["neck_01"], "head",
        {"clavicle": "clavicle_{s}", "upper_arm": "upperarm_{s}", "forearm": "lowerarm_{s}", "hand": "hand_{s}",
         "thigh": "thigh_{s}", "shin": "calf_{s}", "foot": "foot_{s}"},
    ),
    # Left/Right words (Unity humanoid / VRM names), with eyes.
    "left_right": RigNaming(
        "left_right", ["Hips", "Spine", "Chest"], ["Neck"], "Head",
        {"clavicle": "{Side}Shoulder", "upper_arm": "{Side}UpperArm", "forearm": "{Side}LowerArm",
         "hand": "{Side}Hand", "thigh": "{Side}UpperLeg", "shin": "{Side}LowerLeg", "foot": "{Side}Foot",
         "eye": "{Side}Eye"},
    ),
}


def _joint(name: str, side: str) -> Vector:
    x, y, z = _SIDED_JOINTS[name]
    return Vector((x if side == "L" else -x, y, z))


def _chain(points: Sequence[Sequence[float]], count: int) -> list[tuple[Vector, Vector]]:
    """`count` bones evenly splitting the segment from points[0] to points[1]."""
    start, end = Vector(points[0]), Vector(points[1])
    steps = [start.lerp(end, i / count) for i in range(count + 1)]
    return list(zip(steps[:-1], steps[1:], strict=True))


def _edit_armature(scene: bpy.types.Scene, armature: bpy.types.Object, build: Callable[[], None]) -> None:
    view_layer = scene.view_layers[0]
    view_layer.objects.active = armature
    window = bpy.context.window_manager.windows[0]
    with bpy.context.temp_override(window=window, scene=scene, view_layer=view_layer,
                                   active_object=armature, object=armature):
        bpy.ops.object.mode_set(mode="EDIT")
        try:
            build()
        finally:
            bpy.ops.object.mode_set(mode="OBJECT")


def _build_bones(data: bpy.types.Armature, naming: RigNaming) -> tuple[dict[str, str], list[str]]:
    """Create the edit bones. Returns role -> bone name ("upper_arm.L" for sided roles) and the body bones."""
    bones = data.edit_bones
    roles: dict[str, str] = {}
    body: list[str] = []

    def bone(name: str, head: Sequence[float], tail: Sequence[float], parent: str | None) -> None:
        eb = bones.new(name)
        eb.head, eb.tail = head, tail
        if parent is not None:
            eb.parent = bones[parent]

    for extra in naming.extra:
        bone(extra, (0.0, 0.3, 0.0), (0.0, 0.3, 0.2), None)
    parent = None
    spine = (*naming.torso, *naming.neck)
    segments = _chain((_PELVIS, _NECK_BASE), len(naming.torso)) + _chain((_NECK_BASE, _HEAD_BASE), len(naming.neck))
    for name, (head, tail) in zip(spine, segments, strict=True):
        bone(name, head, tail, parent)
        parent = name
    bone(naming.head, _HEAD_BASE, _HEAD_TOP, parent)
    roles.update(pelvis=naming.torso[0], chest=naming.torso[-1], head=naming.head)
    body.extend((*spine, naming.head))
    if naming.nose is not None:
        bone(naming.nose, _NOSE_BRIDGE, _NOSE_TIP, naming.head)
    for side in ("L", "R"):
        for role, head, tail, parent_role in _LIMBS:
            name = naming.side(role, side)
            if name is not None:
                bone(name, _joint(head, side), _joint(tail, side), roles.get(f"{parent_role}.{side}", roles.get(parent_role)))
                roles[f"{role}.{side}"] = name
                body.append(name)
        for role, tail in (("eye", "eye_front"), ("ear", "ear_tip")):
            name = naming.side(role, side)
            if name is not None:
                bone(name, _joint(role, side), _joint(tail, side), naming.head)
    return roles, body


def add_bone_chain(scene: bpy.types.Scene, name: str, bone_names: Sequence[str]) -> bpy.types.Object:
    """An armature of one straight chain of 1 m bones along +Y (a tail, a crane: no body)."""
    armature = _link(scene, bpy.data.objects.new(name, bpy.data.armatures.new(name)))

    def build() -> None:
        parent = None
        for i, bone_name in enumerate(bone_names):
            bone = armature.data.edit_bones.new(bone_name)
            bone.head, bone.tail, bone.parent = (0.0, float(i), 0.0), (0.0, i + 1.0, 0.0), parent
            parent = bone

    _edit_armature(scene, armature, build)
    return armature


def add_character(
    scene: bpy.types.Scene, name: str, naming: str, location: Sequence[float], *, facing: float = 0.0,
    body: bool = True,
) -> bpy.types.Object:
    """A humanoid armature named in one rig convention (a key of RIG_NAMINGS), optionally with a box body.

    `facing` turns the character about Z (radians; 0 faces -Y). The body is one box per limb
    bone, parented to its bone, so it moves with the pose without skinning.
    """
    rig = RIG_NAMINGS[naming]
    armature = _link(scene, bpy.data.objects.new(name, bpy.data.armatures.new(name)))
    armature.location = location
    armature.rotation_euler = (0.0, 0.0, facing)
    built: list[tuple[dict[str, str], list[str]]] = []
    _edit_armature(scene, armature, lambda: built.append(_build_bones(armature.data, rig)))
    roles, body_bones = built[0]
    armature["blocking_roles"] = roles  # lets walk() find bones without knowing the convention
    if body:
        _add_body(scene, armature, body_bones, roles["head"], set(rig.torso) | set(rig.neck))
    return armature


def _add_body(
    scene: bpy.types.Scene, armature: bpy.types.Object, bone_names: Sequence[str], head: str, trunk: set[str]
) -> None:
    """Boxes along the body bones, parented to them (a blocking mannequin)."""
    for bone_name in bone_names:
        bone = armature.data.bones[bone_name]
        width = 0.22 if bone_name == head else 0.26 if bone_name in trunk else 0.1
        box = add_box(scene, f"{armature.name}.{bone_name}", (width, width, bone.length), (0.0, 0.0, 0.0))
        box.parent = armature
        box.parent_type = "BONE"
        box.parent_bone = bone_name
        # Bone-parented children sit at the bone's tail; move the box back to the bone's middle (along its Y).
        box.matrix_parent_inverse = Matrix.Translation((0.0, -bone.length / 2, 0.0)) @ Matrix.Rotation(
            math.radians(-90.0), 4, "X"
        )


def walk(armature: bpy.types.Object, frames: tuple[int, int], distance: float, *, steps: float = 2.0) -> None:
    """Keyframe a walk: the rig moves `distance` along its facing while legs and arms swing in opposition."""
    roles = armature["blocking_roles"]
    start, end = frames
    origin = armature.location.copy()
    forward = Matrix.Rotation(armature.rotation_euler.z, 3, "Z") @ Vector((0.0, -1.0, 0.0))
    for frame in range(start, end + 1):
        t = (frame - start) / max(end - start, 1)
        phase = math.sin(2.0 * math.pi * steps * t)
        armature.location = origin + forward * (distance * t)
        armature.keyframe_insert("location", frame=frame)
        for role, swing in (("thigh.L", phase), ("thigh.R", -phase), ("upper_arm.L", -phase),
                            ("upper_arm.R", phase)):
            _swing(armature, roles[role], 0.45 * swing, frame)
        for role, bend in (("shin.L", max(-phase, 0.0)), ("shin.R", max(phase, 0.0))):
            _swing(armature, roles[role], -0.6 * bend, frame)


def _swing(armature: bpy.types.Object, bone_name: str, angle: float, frame: int) -> None:
    pose_bone = armature.pose.bones[bone_name]
    pose_bone.rotation_mode = "XYZ"
    pose_bone.rotation_euler = Euler((angle, 0.0, 0.0))
    pose_bone.keyframe_insert("rotation_euler", frame=frame)


# --- whole shots --------------------------------------------------------------------------------------------


def build_demo_scene(
    name: str = "Blocking", *, resolution: tuple[int, int] = (512, 288), frames: tuple[int, int] = (1, 48)
) -> bpy.types.Scene:
    """The demo shot: a backdrop and floor, a cube and a sphere moving across, a slow camera push-in,
    and two walking characters (one Rigify, one Mixamo)."""
    scene = new_scene(name, resolution=resolution, frames=frames)
    start, end = frames
    camera = add_camera(scene, (0.0, -9.0, 1.6), (0.0, 0.0, 1.0), lens=35.0)
    keyframe_path(camera, {start: (0.0, -9.0, 1.6), end: (0.6, -7.0, 1.5)})
    add_plane(scene, "Floor", 30.0, (0.0, 0.0, 0.0))
    add_plane(scene, "Backdrop", 30.0, (0.0, 6.0, 0.0), (math.radians(90.0), 0.0, 0.0))
    cube = add_box(scene, "Cube", (0.8, 0.8, 0.8), (-3.5, 1.0, 0.4))
    keyframe_path(cube, {start: (-3.5, 1.0, 0.4), end: (-0.8, -1.5, 0.4)})
    sphere = add_sphere(scene, "Sphere", 0.5, (3.2, -1.0, 0.5))
    keyframe_path(sphere, {start: (3.2, -1.0, 0.5), end: (0.8, -2.0, 1.6)})
    hero = add_character(scene, "Hero", "rigify", (-1.5, 0.0, 0.0), facing=math.radians(90.0))
    walk(hero, frames, 3.0)
    extra = add_character(scene, "Extra", "mixamo", (1.8, 2.0, 0.0), facing=math.radians(20.0))
    walk(extra, frames, 1.5)
    scene.frame_set(start)
    return scene
