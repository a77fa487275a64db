"""Which bone of a rig is which OpenPose joint: built-in maps per rig convention, and per-armature overrides.

A map entry is a bone reference, `"bone"` (the bone's head) or `"bone:tail"`,
as recorded in shot.json. Each convention lists, per joint, candidate references
in order of preference; the first whose bone exists wins. A convention applies
to an armature when all of its core joints resolve, so a door rig or a tail rig
is not mistaken for a body.

Conventions, tried in this order:
- `rigify`: a generated Rigify rig (DEF- deform bones, ORG- face bones);
- `rigify_metarig`: the Rigify human metarig before generation;
- `mixamo`: Mixamo's `mixamorig:` (or `mixamorig1:` ...) names;
- `left_right`: any names with a side as `.L`/`_l`/`-R`/`L_` or `Left`/`Right`
  words (Unreal's upperarm_l, Unity's LeftUpperArm, plain upper_arm.L, ...).

Face joints come from face bones where the rig has them; without them eyes
and ears are unmapped (not visible in the pose), and the nose falls back to the
head bone's head, so the skeleton still shows where the head is.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

from .options import ExportError

# OpenPose-18 body joints in COCO order: the order of backend/underpaint/shot/models.py (a test checks they agree).
OPENPOSE_KEYPOINTS: tuple[str, ...] = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
CORE_JOINTS = ("neck", "right_shoulder", "left_shoulder", "right_hip", "left_hip")
_SIDES = {"right": ("R", "r", "Right"), "left": ("L", "l", "Left")}


@dataclass(frozen=True)
class RigMap:
    """How one armature's bones give the OpenPose joints."""

    rig_type: str
    bone_map: dict[str, str]  # keypoint name -> "bone" or "bone:tail"; unmapped joints are absent


def split_reference(reference: str) -> tuple[str, bool]:
    """'bone:tail' -> ('bone', True); 'bone' -> ('bone', False). Bone names may hold ':' (mixamorig:Hips)."""
    bone, sep, end = reference.rpartition(":")
    if sep and end == "tail":
        return bone, True
    return reference, False


def _expand(table: Mapping[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    """Write each sided joint once with {S}/{s}/{Side} and get both sides."""
    out: dict[str, tuple[str, ...]] = {}
    for joint, candidates in table.items():
        if joint.startswith("{side}_"):
            for side, (upper, lower, word) in _SIDES.items():
                out[joint.replace("{side}", side)] = tuple(c.format(S=upper, s=lower, Side=word) for c in candidates)
        else:
            out[joint] = candidates
    return out


def _rigify(prefix: str, face: str) -> dict[str, tuple[str, ...]]:
    """A Rigify skeleton: spine.004 is the neck base, spine.006 the head; body bones carry `prefix`."""
    return _expand({
        "nose": (f"{face}nose:tail", f"{prefix}spine.006"),
        "neck": (f"{prefix}spine.004",),
        "{side}_shoulder": (prefix + "upper_arm.{S}",),
        "{side}_elbow": (prefix + "forearm.{S}",),
        "{side}_wrist": (prefix + "hand.{S}",),
        "{side}_hip": (prefix + "thigh.{S}",),
        "{side}_knee": (prefix + "shin.{S}",),
        "{side}_ankle": (prefix + "foot.{S}",),
        "{side}_eye": (face + "eye.{S}",),
        "{side}_ear": (face + "ear.{S}",),
    })


MIXAMO = _expand({
    "nose": ("Head",), "neck": ("Neck",),
    "{side}_shoulder": ("{Side}Arm",), "{side}_elbow": ("{Side}ForeArm",), "{side}_wrist": ("{Side}Hand",),
    "{side}_hip": ("{Side}UpLeg",), "{side}_knee": ("{Side}Leg",), "{side}_ankle": ("{Side}Foot",),
    "{side}_eye": ("{Side}Eye",),
})

# Generic names, compared after `canonical_name` (side prefix "L:"/"R:", lower case, no separators).
LEFT_RIGHT = _expand({
    "nose": ("nose", "head"), "neck": ("neck", "neck01", "neck1"),
    "{side}_shoulder": ("{S}:upperarm", "{S}:uparm", "{S}:arm"),
    "{side}_elbow": ("{S}:forearm", "{S}:lowerarm", "{S}:elbow"),
    "{side}_wrist": ("{S}:hand", "{S}:wrist"),
    "{side}_hip": ("{S}:thigh", "{S}:upperleg", "{S}:upleg"),
    "{side}_knee": ("{S}:shin", "{S}:calf", "{S}:lowerleg", "{S}:knee", "{S}:leg"),
    "{side}_ankle": ("{S}:foot", "{S}:ankle"),
    "{side}_eye": ("{S}:eye",), "{side}_ear": ("{S}:ear",),
})

_MIXAMO_PREFIX = re.compile(r"^mixamorig\d*:")
_SIDE_SUFFIX = re.compile(r"^(?P<base>.+?)[._\- ](?P<side>[LRlr])$|^(?P<base2>.+?)(?P<word>Left|Right|left|right)$")
_SIDE_PREFIX = re.compile(r"^(?P<side>[LRlr])[._\- ](?P<base>.+)$|^(?P<word>Left|Right|left|right)[._\- ]?(?P<base2>.+)$")


def canonical_name(name: str) -> str:
    """'upperarm_l' / 'LeftUpperArm' / 'upper_arm.L' -> 'L:upperarm'; 'Neck_01' -> 'neck01'."""
    side, base = "", name
    match = _SIDE_SUFFIX.match(name) or _SIDE_PREFIX.match(name)
    if match:
        word = match.group("word")
        side = (word[0] if word else match.group("side")).upper()
        base = match.group("base") or match.group("base2")
    base = re.sub(r"[^a-z0-9]", "", base.lower())
    return f"{side}:{base}" if side else base


@dataclass(frozen=True)
class _Convention:
    rig_type: str
    table: dict[str, tuple[str, ...]]
    key: Callable[[str], str | None]  # bone name -> the name the table uses (None: not this convention's)


def _mixamo_key(name: str) -> str | None:
    match = _MIXAMO_PREFIX.match(name)
    return name[match.end():] if match else None


CONVENTIONS = (
    _Convention("rigify", _rigify("DEF-", "ORG-"), lambda name: name),
    _Convention("rigify_metarig", _rigify("", ""), lambda name: name),
    _Convention("mixamo", MIXAMO, _mixamo_key),
    _Convention("left_right", LEFT_RIGHT, canonical_name),
)


def _resolve(convention: _Convention, bone_names: Collection[str]) -> dict[str, str]:
    keyed: dict[str, str] = {}
    for name in sorted(bone_names):  # sorted: the first of two bones with the same key wins, reproducibly
        key = convention.key(name)
        if key is not None:
            keyed.setdefault(key, name)
    bone_map = {}
    for joint in OPENPOSE_KEYPOINTS:
        for candidate in convention.table.get(joint, ()):
            bone_key, tail = split_reference(candidate)
            if bone_key in keyed:
                bone_map[joint] = keyed[bone_key] + (":tail" if tail else "")
                break
    return bone_map


def detect_rig(bone_names: Collection[str]) -> RigMap | None:
    """The first convention whose core joints all resolve in these bones, with its joint map."""
    for convention in CONVENTIONS:
        bone_map = _resolve(convention, bone_names)
        if all(joint in bone_map for joint in CORE_JOINTS):
            return RigMap(convention.rig_type, bone_map)
    return None


def apply_overrides(
    armature_name: str, bone_names: Collection[str], detected: RigMap | None, overrides: Mapping[str, str]
) -> RigMap | None:
    """The artist's per-joint choices on top of the detected map ('' = leave the joint unmapped)."""
    if not overrides:
        return detected
    bone_map = dict(detected.bone_map) if detected else {}
    for joint, reference in overrides.items():
        if joint not in OPENPOSE_KEYPOINTS:
            raise ExportError(f"armature {armature_name!r}: {joint!r} is not an OpenPose joint")
        if not reference:
            bone_map.pop(joint, None)
            continue
        bone, _tail = split_reference(reference)
        if bone not in bone_names:
            raise ExportError(f"armature {armature_name!r}: the bone override for {joint} names {bone!r}, "
                             "which the armature does not have")
        bone_map[joint] = reference
    return RigMap("custom", {joint: bone_map[joint] for joint in OPENPOSE_KEYPOINTS if joint in bone_map})
