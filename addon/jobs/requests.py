"""One request type per job kind: what the artist decided, as the JSON params the server receives.

Requests are frozen and decided on the main thread before a worker starts; `params(model)`
is the body of `POST /v1/jobs` (the model set is the one the worker checked on the server).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar


@dataclass(frozen=True)
class Control:
    """How strongly one control steers the painting (over the whole schedule)."""

    name: str
    weight: float

    def params(self) -> dict[str, float]:
        return {"weight": round(self.weight, 4), "start": 0.0, "end": 1.0}


@dataclass(frozen=True)
class Style:
    name: str
    weight: float

    def params(self) -> dict[str, Any]:
        return {"name": self.name, "weight": round(self.weight, 4)}


@dataclass(frozen=True)
class Paint:
    """What to paint and how: every shot job sends these (an edit's replace its parent's)."""

    prompt: str
    negative_prompt: str = ""
    seed: int = 0
    steps: int = 20
    guidance: float = 7.5
    controls: tuple[Control, ...] = ()
    use_color: bool = False
    strength: float = 0.6
    styles: tuple[Style, ...] = ()
    cache: bool = False
    quality: str = "final"  # "draft": the set's draft models (where health lists them)

    def params(self) -> dict[str, Any]:
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "seed": self.seed,
            "steps": self.steps,
            "guidance": round(self.guidance, 4),
            "controls": {control.name: control.params() for control in self.controls},
            "use_color": self.use_color,
            "strength": round(self.strength, 4),
            "styles": [style.params() for style in self.styles],
            "cache": self.cache,
            "quality": self.quality,
        }


@dataclass(frozen=True)
class Shot:
    """The shot a job paints: its exported package folder, and the folder its takes go to."""

    package: Path
    takes_folder: Path


@dataclass(frozen=True)
class Stylize:
    """Paint a shot into a new take."""

    kind: ClassVar[str] = "stylize"
    shot: Shot
    paint: Paint
    width: int
    height: int
    model: str | None = None  # None: the server's default

    def params(self, model: str) -> dict[str, Any]:
        return self.paint.params() | {"width": self.width, "height": self.height, "model": model}


@dataclass(frozen=True)
class Rerender:
    """Paint whole frames of a take again; the new take keeps the parent's size and model set."""

    kind: ClassVar[str] = "rerender"
    shot: Shot
    paint: Paint
    parent_take: str
    frames: tuple[int, int]
    model: str | None = None  # the parent's: checked on the server, not sent

    def params(self, model: str) -> dict[str, Any]:
        return self.paint.params() | {"parent_take": self.parent_take, "frames": list(self.frames)}


@dataclass(frozen=True)
class Refine:
    """Paint a region of a take again (over `frames`, else all of it); the rest stays the same.

    The region: the named objects, and the mask frames (Blender frame, grey PNG: white = repaint)
    drawn or rigged in Blender, which the worker uploads with the shot.
    """

    kind: ClassVar[str] = "refine"
    shot: Shot
    paint: Paint
    parent_take: str
    objects: tuple[str, ...]
    dilate: int = 0
    frames: tuple[int, int] | None = None
    model: str | None = None  # the parent's: checked on the server, not sent
    masks: tuple[tuple[int, Path], ...] = ()

    def params(self, model: str, masks: Mapping[int, str] | None = None) -> dict[str, Any]:
        """`masks`: each mask frame's sha256, hashed by the worker."""
        mask: dict[str, Any] = {"objects": list(self.objects), "dilate": self.dilate}
        if masks:
            mask["frames"] = {str(frame): sha for frame, sha in sorted(masks.items())}
        params = self.paint.params() | {"parent_take": self.parent_take, "mask": mask}
        if self.frames is not None:
            params["frames"] = list(self.frames)
        return params


@dataclass(frozen=True)
class TrainStyle:
    """Teach a model set a look from images; `images` maps the name sent to the file (captions too)."""

    kind: ClassVar[str] = "train_style"
    name: str
    images: dict[str, Path] = field(default_factory=dict)
    steps: int = 500
    rank: int = 8
    resolution: int = 512
    trigger: str = ""
    force: bool = False
    model: str | None = None

    def params(self, model: str, files: dict[str, str]) -> dict[str, Any]:
        """`files`: the name of each image -> its sha256, hashed by the worker."""
        return {"name": self.name, "files": files, "model": model, "steps": self.steps, "rank": self.rank,
                "resolution": self.resolution, "trigger": self.trigger or self.name, "force": self.force}


@dataclass(frozen=True)
class FetchTake:
    """Download a known take's frames again (moved output folder, another machine)."""

    kind: ClassVar[str] = "fetch"
    take: str
    folder: Path


@dataclass(frozen=True)
class ShowControls:
    """Upload a shot and fetch the control images a stylize job of this size would draw (what the model sees)."""

    kind: ClassVar[str] = "controls"
    shot: Shot
    paint: Paint  # its enabled controls are fetched
    width: int
    height: int
    frames: tuple[int, int]
    model: str | None = None

    @property
    def folder(self) -> Path:
        """`<shot folder>/controls/<control>/####.png`."""
        return self.shot.takes_folder / "controls"


ShotRequest = Stylize | Rerender | Refine | ShowControls
Request = Stylize | Rerender | Refine | ShowControls | TrainStyle | FetchTake
