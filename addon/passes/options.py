"""What one export is asked to do, and how it says it could not."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ExportOptions:
    """Choices beyond the frame range. Depth, camera-space normals and object index are always measured."""

    shot_name: str | None = None  # the shot's name in shot.json (None: the scene's name)
    color: bool = False  # also render the rough colour pass (Workbench) into color/NNNN.png
    motion: bool = True  # the Vector pass: pixel motion to the previous and next frame
    pose: bool = True  # pose.json for every armature whose bones map to OpenPose joints
    view_layer: str | None = None  # view layer to measure (None: the first one that renders)
    resolution: tuple[int, int] | None = None  # pixels (None: the scene's output size with its percentage)


class ExportError(Exception):
    """A problem the artist can fix (no camera, empty range, unwritable folder, a bad bone override)."""


class ExportCancelled(ExportError):
    """The artist pressed Esc (or the caller asked to stop); the package was left incomplete, without shot.json."""
