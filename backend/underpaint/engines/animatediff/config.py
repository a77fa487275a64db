"""What a model set of the `animatediff` engine says: its TOML table as a typed, checked config.

A set names where each model comes from (a Hugging Face id, a local diffusers
folder, or a `.safetensors` file), the scheduler, the context window of the
motion module and the size the base model was trained at. Paths may use
`{data_dir}`; a set with `builder = "tiny"` is built locally on first use (see
`underpaint.engines.animatediff.tiny`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from ...control.registry import CONTROLS
from ..config import DraftConfig, EngineConfig, StrictModel, expand_path, parse_config
from ..registry import ModelSet
from ..sources import local_weights, weights_location

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SINGLE_FILE_SUFFIXES = (".safetensors",)


class Source(StrictModel):
    """Where one model's weights come from: `"hub/id"`, `"folder"`, or `{path = "...", config = "..."}`.

    `config` matters only for single files: the diffusers config (hub id or
    folder) that lays the model out, instead of the one diffusers would guess
    and fetch from the hub. A single file inside a hub repository names the
    repository too: `{repo = "owner/name", path = "file.safetensors", config = "..."}`.
    """

    path: str = Field(min_length=1)
    config: str | None = None
    repo: str | None = Field(None, pattern=_HUB_ID.pattern)

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, value: Any) -> Any:
        return {"path": value} if isinstance(value, str) else value

    @field_validator("path", "config")
    @classmethod
    def _expand(cls, value: str | None, info: ValidationInfo) -> str | None:
        return None if value is None else expand_path(value, info)

    @model_validator(mode="after")
    def _single_file_has_layout(self) -> Source:
        if self.kind == "file" and self.config is None:
            # Without it diffusers guesses a config repo and fetches it, which fails offline.
            raise ValueError('is a single file: give the layout too, as {path = "...", config = "<hub id or folder>"}')
        return self

    @model_validator(mode="after")
    def _repo_names_a_file(self) -> Source:
        if self.repo is not None and self.kind != "file":
            raise ValueError(f"names repo {self.repo!r}: path must then be a .safetensors file inside it")
        return self

    @property
    def location(self) -> str:
        return weights_location(self.path, self.repo)

    def local_file(self) -> Path | None:
        """A single file's path on this machine (a hub repository's file from the cache), else None."""
        return local_weights(self.path, self.repo)

    @property
    def kind(self) -> str:
        """'file' (a .safetensors checkpoint), 'folder' (local diffusers layout) or 'hub' (a repo id)."""
        if self.path.endswith(SINGLE_FILE_SUFFIXES):
            return "file"
        if Path(self.path).exists() or not _HUB_ID.match(self.path):
            return "folder"
        return "hub"


class AnimateDiffDraft(DraftConfig):
    """A set's `draft` table: a step-distilled motion module (AnimateDiff-Lightning) and its scheduler.

    The draft paints with the set's own base, VAE and ControlNets; only the motion module and the
    sampler change. Lightning's modules were distilled with Euler on trailing timesteps and the linear
    beta schedule, the defaults here.
    """

    motion_adapter: Source
    scheduler: str = Field("EulerDiscreteScheduler", min_length=1)
    scheduler_options: dict[str, Any] = Field(
        default_factory=lambda: {"timestep_spacing": "trailing", "beta_schedule": "linear"}
    )


class AnimateDiffSettings(EngineConfig):
    """A parsed `animatediff` model set."""

    base: Source
    motion_adapter: Source
    # One ControlNet per control of the registry this set paints with.
    controlnets: dict[str, Source] = Field(min_length=1)
    vae: Source | None = None
    scheduler: str = Field("DDIMScheduler", min_length=1)
    scheduler_options: dict[str, Any] = Field(default_factory=dict)
    # Frames the motion module sees at once, and how many already-painted frames
    # each later window repeats as fixed context so that windows join smoothly.
    window: int = Field(16, ge=1)
    overlap: int = Field(4, ge=0)
    # The size the base model was trained at: the add-on's AUTO size keeps its pixel count.
    native_size: Annotated[tuple[int, int], Field(strict=False)] = (512, 512)
    dtype: Literal["float16", "bfloat16", "float32"] = "float16"
    offload: Literal["auto", "never", "always"] = "auto"
    builder: Literal["tiny"] | None = None
    draft: AnimateDiffDraft | None = None

    @field_validator("controlnets")
    @classmethod
    def _known_controls(cls, nets: dict[str, Source]) -> dict[str, Source]:
        unknown = sorted(set(nets) - set(CONTROLS))
        if unknown:
            raise ValueError(f"names unknown controls {unknown}; controls are {', '.join(CONTROLS)}")
        return {c: nets[c] for c in CONTROLS if c in nets}

    @model_validator(mode="after")
    def _overlap_inside_window(self) -> AnimateDiffSettings:
        if self.overlap >= self.window:
            raise ValueError(f"need overlap < window, got window={self.window}, overlap={self.overlap}")
        return self

    def sources(self) -> dict[str, Source]:
        """Every model of the set by a readable role name ('base', 'controlnet.depth', ...)."""
        out = {"base": self.base, "motion_adapter": self.motion_adapter}
        out.update({f"controlnet.{control}": source for control, source in self.controlnets.items()})
        if self.vae is not None:
            out["vae"] = self.vae
        if self.draft is not None:
            out["draft.motion_adapter"] = self.draft.motion_adapter
        return out


def parse_settings(model_set: ModelSet, data_dir: Path | None) -> AnimateDiffSettings:
    """Read `model_set`'s table; every mistake is an EngineError naming the set and the key."""
    return parse_config(AnimateDiffSettings, model_set, data_dir)
