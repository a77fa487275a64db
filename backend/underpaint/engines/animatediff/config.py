"""What a model set of the `animatediff` engine says, read and checked from its TOML table.

A set names where each model comes from (a Hugging Face id, a local diffusers
folder, or a `.safetensors` file), the scheduler, and the context window of the
motion module. Paths may use `{data_dir}`; a set with `builder = "tiny"` is
built locally on first use (see `underpaint.engines.animatediff.tiny`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..base import CONTROL_TYPES, EngineError
from ..registry import ModelSet

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
SINGLE_FILE_SUFFIXES = (".safetensors",)
DTYPES = ("float16", "bfloat16", "float32")
OFFLOAD = ("auto", "never", "always")
BUILDERS = ("tiny",)


@dataclass(frozen=True)
class Source:
    """Where one model's weights come from.

    `config` matters only for single files: the diffusers config (hub id or
    folder) that lays the model out, instead of the one diffusers would guess
    and fetch from the hub.
    """

    location: str
    config: str | None = None

    @property
    def kind(self) -> str:
        """'file' (a .safetensors checkpoint), 'folder' (local diffusers layout) or 'hub' (a repo id)."""
        if self.location.endswith(SINGLE_FILE_SUFFIXES):
            return "file"
        if Path(self.location).exists() or not _HUB_ID.match(self.location):
            return "folder"
        return "hub"


@dataclass(frozen=True)
class AnimateDiffSettings:
    """A parsed `animatediff` model set."""

    name: str
    base: Source
    motion_adapter: Source
    controlnets: dict[str, Source]
    vae: Source | None = None
    scheduler: str = "DDIMScheduler"
    scheduler_options: dict[str, Any] = field(default_factory=dict)
    # Frames the motion module sees at once, and how many already-painted frames
    # each later window repeats as fixed context so that windows join smoothly.
    window: int = 16
    overlap: int = 4
    dtype: str = "float16"
    offload: str = "auto"
    builder: str | None = None

    def sources(self) -> dict[str, Source]:
        """Every model of the set by a readable role name ('base', 'controlnet.depth', ...)."""
        out = {"base": self.base, "motion_adapter": self.motion_adapter}
        out.update({f"controlnet.{control}": source for control, source in self.controlnets.items()})
        if self.vae is not None:
            out["vae"] = self.vae
        return out


def parse_settings(model_set: ModelSet, data_dir: Path | None) -> AnimateDiffSettings:
    """Read `model_set`'s table; every mistake is an EngineError naming the set and the key."""
    table = dict(model_set.components)
    reader = _Reader(model_set.name, table, data_dir)
    settings = AnimateDiffSettings(
        name=model_set.name,
        base=reader.required_source("base"),
        motion_adapter=reader.required_source("motion_adapter"),
        controlnets=reader.controlnets(),
        vae=reader.source("vae", required=False),
        scheduler=reader.text("scheduler", "DDIMScheduler"),
        scheduler_options=reader.options("scheduler_options"),
        window=reader.integer("window", 16),
        overlap=reader.integer("overlap", 4),
        dtype=reader.required_choice("dtype", DTYPES, "float16"),
        offload=reader.required_choice("offload", OFFLOAD, "auto"),
        builder=reader.choice("builder", BUILDERS, None),
    )
    if table:
        raise EngineError(f"model set {model_set.name!r}: unknown keys {sorted(table)}")
    if settings.window < 1 or not 0 <= settings.overlap < settings.window:
        raise EngineError(
            f"model set {model_set.name!r}: need window >= 1 and 0 <= overlap < window, "
            f"got window={settings.window}, overlap={settings.overlap}"
        )
    return settings


class _Reader:
    """Pops keys off a set's table, so that whatever is left over is a typo to report."""

    def __init__(self, name: str, table: dict[str, Any], data_dir: Path | None) -> None:
        self.name, self.table, self.data_dir = name, table, data_dir

    def _fail(self, key: str, problem: str) -> EngineError:
        return EngineError(f"model set {self.name!r}: {key} {problem}")

    def _expand(self, key: str, value: str) -> str:
        if "{data_dir}" in value:
            if self.data_dir is None:
                raise self._fail(key, "uses {data_dir} but no data directory was given")
            value = value.replace("{data_dir}", str(self.data_dir))
        return str(Path(value).expanduser()) if value.startswith("~") else value

    def _source(self, key: str, value: Any) -> Source:
        if isinstance(value, str) and value:
            source = Source(self._expand(key, value))
        elif (
            isinstance(value, dict)
            and isinstance(value.get("path"), str)
            and set(value) <= {"path", "config"}
        ):
            config = value.get("config")
            if config is not None and not isinstance(config, str):
                raise self._fail(key, "config must be a string (hub id or folder)")
            source = Source(self._expand(key, value["path"]), self._expand(key, config) if config else None)
        else:
            raise self._fail(key, 'must be a hub id, a path, or a table {path = "...", config = "..."}')
        if source.kind == "file" and source.config is None:
            # Without it diffusers guesses a config repo and fetches it, which fails offline.
            raise self._fail(
                key, 'is a single file: give the layout too, as {path = "...", config = "<hub id or folder>"}'
            )
        return source

    def required_source(self, key: str) -> Source:
        source = self.source(key)
        assert source is not None  # source() raises for a missing required key
        return source

    def required_choice(self, key: str, choices: tuple[str, ...], default: str) -> str:
        value = self.choice(key, choices, default)
        assert value is not None  # a non-None default stays non-None unless the table says otherwise
        return value

    def source(self, key: str, required: bool = True) -> Source | None:
        if key not in self.table:
            if required:
                raise self._fail(key, "is missing")
            return None
        return self._source(key, self.table.pop(key))

    def controlnets(self) -> dict[str, Source]:
        nets = self.table.pop("controlnets", None)
        if not isinstance(nets, dict) or not nets:
            raise self._fail(
                "controlnets", f"must be a table naming a ControlNet for some of {CONTROL_TYPES}"
            )
        unknown = sorted(set(nets) - set(CONTROL_TYPES))
        if unknown:
            raise self._fail("controlnets", f"names unknown control types {unknown}; known: {CONTROL_TYPES}")
        return {c: self._source(f"controlnets.{c}", nets[c]) for c in CONTROL_TYPES if c in nets}

    def text(self, key: str, default: str) -> str:
        value = self.table.pop(key, default)
        if not isinstance(value, str) or not value:
            raise self._fail(key, "must be a non-empty string")
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.table.pop(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self._fail(key, "must be an integer")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.table.pop(key, default)
        if value is not None and value not in choices:
            raise self._fail(key, f"must be one of {choices}, got {value!r}")
        return value

    def options(self, key: str) -> dict[str, Any]:
        value = self.table.pop(key, {})
        if not isinstance(value, dict):
            raise self._fail(key, "must be a table")
        return value
