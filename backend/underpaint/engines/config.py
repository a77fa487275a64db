"""A model set's TOML table read into its engine's typed config (pydantic), errors naming the set and key.

Each engine declares one `EngineConfig` subclass; `parse_config` validates the
table against it. Unknown keys are refused (a typo is an error, not a silent
default), and `{data_dir}` in a path is expanded from the validation context.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo

from .base import DraftSchedule, EngineError
from .registry import ModelSet

ConfigT = TypeVar("ConfigT", bound="EngineConfig")


class StrictModel(BaseModel):
    """Frozen, strict about unknown keys and types: a typo in models.toml is an error, not a default."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class EngineConfig(StrictModel):
    """The base of every engine's config; `name` is the model set's (the table's own name)."""

    name: str


def expand_path(value: str, info: ValidationInfo) -> str:
    """`{data_dir}` and `~` expanded: for validators of fields that hold a path or a hub id."""
    if "{data_dir}" in value:
        data_dir = (info.context or {}).get("data_dir")
        if data_dir is None:
            raise ValueError("uses {data_dir} but no data directory was given")
        value = value.replace("{data_dir}", str(data_dir))
    return str(Path(value).expanduser()) if value.startswith("~") else value


def parse_config(cls: type[ConfigT], model_set: ModelSet, data_dir: Path | None) -> ConfigT:
    """`model_set`'s table as a `cls`; every mistake is one EngineError naming the set and each key."""
    if "name" in model_set.components:
        raise EngineError(f"model set {model_set.name!r}: name: unknown key (the table's name is the set's)")
    try:
        return cls.model_validate({**model_set.components, "name": model_set.name}, context={"data_dir": data_dir})
    except ValidationError as exc:
        problems = "; ".join(_problem(error) for error in exc.errors())
        raise EngineError(f"model set {model_set.name!r}: {problems}") from exc


def _problem(error: Any) -> str:
    key = ".".join(str(part) for part in error["loc"]) or "table"
    if error["type"] == "extra_forbidden":
        return f"{key}: unknown key"
    if error["type"] == "missing":
        return f"{key}: missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    return f"{key} = {error.get('input')!r}: {message}"


class DraftConfig(StrictModel):
    """A set's `draft` table: the schedule its step-distilled models were trained for (engines add the models).

    Step-distilled models (AnimateDiff-Lightning, Wan's CausVid / lightx2v LoRAs) paint in a handful of
    steps and were trained without classifier-free guidance, so guidance 1 (off) is their default.
    """

    steps: int = Field(4, ge=1, le=50)
    guidance: float = Field(1.0, ge=0.0, le=30.0)

    def schedule(self) -> DraftSchedule:
        return DraftSchedule(steps=self.steps, guidance=self.guidance)
