"""A `wan-vace` model set's table in models.toml, as a typed, checked config."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...control.registry import CONTROLS
from ..compile import CompileMode
from ..config import DraftConfig, EngineConfig, parse_config
from ..registry import ModelSet
from ..sources import FileSource
from .windows import plan_windows

# The controls VACE was trained on that a shot package provides (depth, scribble/lineart as `edges`,
# pose), in the order they are layered into its one control video (`engine.control_video`); VACE
# has no normal-map control.
VACE_CONTROLS = ("depth", "edges", "pose")


class VaceDraft(DraftConfig):
    """A set's `draft` table: a step- and guidance-distilled LoRA for the set's Wan transformer.

    Loaded for a draft job only, beside the job's styles, at `weight`; `flow_shift` 0 keeps the set's.
    """

    lora: FileSource
    weight: float = Field(1.0, ge=0.0, le=2.0)
    flow_shift: float = Field(0.0, ge=0.0)


class VaceOptions(EngineConfig):
    """A parsed `wan-vace` model set."""

    pipeline: str = ""  # a Hugging Face id or a local diffusers folder
    builder: Literal["", "tiny-vace"] = ""  # the pipeline folder is built locally on first use (tests)
    controls: Annotated[tuple[str, ...], Field(strict=False)] = VACE_CONTROLS
    window: int = 81  # frames per call, 4k+1
    overlap: int = 17  # frames a window shares with the previous one; 4k+1 keeps them on whole latent frames
    flow_shift: float = 0.0  # 0 = by resolution
    offload: Literal["auto", "always", "never"] = "auto"  # model CPU offload + VAE tiling
    # Wan 2.1's 480p size; the add-on's AUTO size keeps its pixel count.
    native_size: Annotated[tuple[int, int], Field(strict=False)] = (832, 480)
    draft: VaceDraft | None = None
    # Regional torch.compile of the transformer's blocks (`engines.compile`): never | cuda | always.
    compile: CompileMode = "never"

    @model_validator(mode="after")
    def _consistent(self) -> VaceOptions:
        if bool(self.pipeline) == bool(self.builder):
            raise ValueError("name exactly one of `pipeline` or `builder`")
        unknown = [c for c in self.controls if c not in VACE_CONTROLS or c not in CONTROLS]
        if unknown:
            raise ValueError(f"controls {unknown} are not VACE controls; VACE paints from {list(VACE_CONTROLS)}")
        plan_windows(self.window + 1, self.window, self.overlap)  # ValueError for a bad window/overlap
        return self


def parse_options(model_set: ModelSet, data_dir: Path | None = None) -> VaceOptions:
    """The set's options; every mistake is an EngineError naming the set and the key."""
    return parse_config(VaceOptions, model_set, data_dir)
