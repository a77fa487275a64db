"""Control image sequences for a range of a shot package, at the generation size.

This is where the per-frame converters of the control registry (and the
object masks) meet the package and the resize plan: one call gives an engine everything it is
conditioned on, plus the metadata a take records about how it was made.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np

from underpaint.errors import InputError
from underpaint.shot.package import ShotPackage

from .depth import DepthRange, depth_range
from .masks import object_indices, objects_mask
from .pose import poses_by_frame
from .registry import CONTROLS, FrameInputs, Measurement, check_names
from .resize import ResizePlan, to_uint8


@dataclass
class ControlSet:
    """uint8 (frames, H, W, 3) per control kind, and how they were made."""

    images: dict[str, np.ndarray]
    plan: ResizePlan
    depth_range: DepthRange | None

    def metadata(self) -> dict[str, object]:
        """The take's `control` record: the one depth range and the resize policy."""
        return {
            "depth_range": self.depth_range.to_json() if self.depth_range else None,
            "resize": self.plan.describe(),
            "resize_plan": self.plan.to_json(),
        }


def shot_depth_range(package: ShotPackage) -> DepthRange:
    """The depth range of the WHOLE shot (every frame), whatever part of it a take paints."""
    threshold = package.shot.passes.depth.background_threshold
    return depth_range((package.read_depth(n) for n in package.frame_numbers), threshold)


# What to tell the artist when a shot lacks the measurement a control is drawn from.
MISSING: dict[Measurement, str] = {
    "depth": "has no depth pass",
    "normal": "has no normal pass; re-export with normals",
    "pose": "has no pose.json (no armature was exported)",
}


def check_control_kinds(package: ShotPackage, kinds: Collection[str]) -> None:
    """Refuse controls the package cannot provide, naming what is missing."""
    check_names(sorted(kinds))
    present = {
        "depth": True,  # every package has depth
        "normal": package.shot.passes.normal is not None,
        "pose": package.shot.pose is not None,
    }
    for measurement in sorted({CONTROLS[kind].measurement for kind in kinds}):
        if not present[measurement]:
            raise InputError("missing_pass", f"shot {package.shot.shot!r} {MISSING[measurement]}")


def make_controls(
    package: ShotPackage,
    frames: Sequence[int],
    plan: ResizePlan,
    kinds: Collection[str],
    shot_range: DepthRange | None = None,
    on_frame: Callable[[int], None] | None = None,
) -> ControlSet:
    """Control images for Blender frames `frames`, each drawn by its registry converter; `shot_range`
    reuses a stored depth range (edits of a take)."""
    check_control_kinds(package, kinds)
    controls = [CONTROLS[kind] for kind in CONTROLS if kind in kinds]
    rng = None
    if any(c.shot_range for c in controls):
        rng = shot_range or shot_depth_range(package)
    poses = poses_by_frame(package.read_pose()) if any(c.measurement == "pose" for c in controls) else {}
    reads_passes = any(c.reads_passes for c in controls)  # a pose-only set never decodes the EXRs
    out: dict[str, list[np.ndarray]] = {c.name: [] for c in controls}
    for i, number in enumerate(frames):
        inputs = FrameInputs(
            passes=package.read_passes(number) if reads_passes else None,
            poses=[a.keypoints for a in poses.get(number, [])],
            depth_range=rng,
            background=package.shot.passes.depth.background_threshold,
            plan=plan,
        )
        for control in controls:
            out[control.name].append(control.draw(inputs))
        if on_frame is not None:
            on_frame(i)
    return ControlSet({kind: np.stack(images) for kind, images in out.items()}, plan, rng)


def missing_color(package: ShotPackage) -> InputError:
    """Video-to-video asked of a shot exported without its colour render, saying how to export one."""
    return InputError(
        "missing_color",
        f"shot {package.shot.shot!r} was exported without the colour render that video-to-video paints over: "
        "export it again with the colour render (in Blender, Video to Video on when you Stylize, or Color on "
        "in Export Shot), or paint without it (use_color off, no --use-color)",
    )


def color_video(package: ShotPackage, frames: Sequence[int], plan: ResizePlan) -> np.ndarray:
    """The rough colour render of `frames` at the generation size, uint8 (frames, H, W, 3)."""
    if not package.has_color():
        raise missing_color(package)
    return np.stack([
        to_uint8(plan.apply(package.read_color(n).astype(np.float32) / 255.0)) for n in frames
    ])


def object_masks(package: ShotPackage, frames: Sequence[int], plan: ResizePlan, names: Collection[str]) -> np.ndarray:
    """float32 (frames, H, W) in [0, 1]: where the named objects are (1 = repaint), at the generation size."""
    if package.shot.passes.object_index is None:
        raise InputError("missing_pass", f"shot {package.shot.shot!r} has no object index pass")
    indices = object_indices(package.shot, names)
    masks = []
    for number in frames:
        index = package.read_passes(number).object_index
        assert index is not None  # the pass is declared, so read_passes decoded it
        masks.append(np.clip(plan.apply(objects_mask(index, indices)), 0.0, 1.0))
    return np.stack(masks)
