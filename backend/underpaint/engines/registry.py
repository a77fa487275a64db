"""Model sets by name: a small TOML registry, data not code.

The package ships `models.toml` with the defaults; a user's
`<data dir>/models.toml` adds sets or overrides them by name. A set names its
engine (a built-in engine name, or `module:attr` for an `EngineFactory` that
lives elsewhere) and the components that engine loads, as hub ids or local
paths. Adding an engine is one folder with a factory and one line in
`BUILTIN_ENGINES`.
"""

from __future__ import annotations

import importlib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base import Engine, EngineError, EngineFactory

DEFAULTS = Path(__file__).resolve().parent / "models.toml"
USER_FILE = "models.toml"

# Built-in engines by name -> "module:attr" of their `EngineFactory` (light modules: no diffusers).
BUILTIN_ENGINES = {
    "animatediff": "underpaint.engines.animatediff.factory:FACTORY",
    "wan-vace": "underpaint.engines.wan_vace.factory:FACTORY",
}


@dataclass(frozen=True)
class SetFacts:
    """What an artist needs to choose a set, stated in its table (approximate, for real weights):
    download size, GPU memory at its native size, how fast it paints, what it is for."""

    download_gb: float | None = None
    vram_gb: float | None = None
    speed: str = ""
    use_for: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"download_gb": self.download_gb, "vram_gb": self.vram_gb, "speed": self.speed,
                "use_for": self.use_for}


# The keys of a model set's table that are facts about it for the artist, not the engine's settings.
FACT_KEYS = ("download_gb", "vram_gb", "speed", "use_for")


@dataclass(frozen=True)
class ModelSet:
    """One named set of models an engine paints with."""

    name: str
    engine: str
    description: str = ""
    components: dict[str, Any] = field(default_factory=dict)
    facts: SetFacts = field(default_factory=lambda: SetFacts())

    @property
    def built_locally(self) -> bool:
        """A set of random weights built on this machine (the tiny sets of tests and CI): it paints noise,
        so it is used only when named, never as a default."""
        return bool(self.components.get("builder"))


# When a job names no model set and none is installed to default to.
NO_DEFAULT_MODEL = (
    "no model set given, and none is installed to default to: download one with `underpaint models pull sd15` "
    "(or wan-vace-1.3b; `underpaint models list` shows them all), or name one (`tiny` paints random noise, "
    "for tests only)"
)


def _read(path: Path) -> dict[str, dict[str, Any]]:
    try:
        return tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise EngineError(f"{path}: not valid TOML ({exc})") from exc


def load_model_sets(data_dir: Path | None = None) -> dict[str, ModelSet]:
    """The package defaults, overridden and extended by `<data dir>/models.toml`."""
    tables = _read(DEFAULTS)
    user = data_dir / USER_FILE if data_dir else None
    if user is not None and user.exists():
        tables.update(_read(user))
    sets = {}
    for name, table in tables.items():
        table = dict(table)
        engine = table.pop("engine", None)
        if not engine:
            raise EngineError(f"model set {name!r} names no engine")
        description = table.pop("description", "")
        facts = _facts(name, {key: table.pop(key) for key in FACT_KEYS if key in table})
        sets[name] = ModelSet(name=name, engine=engine, description=description, components=table, facts=facts)
    return sets


def _facts(name: str, table: dict[str, Any]) -> SetFacts:
    for key in ("download_gb", "vram_gb"):
        if key in table and (isinstance(table[key], bool) or not isinstance(table[key], int | float)):
            raise EngineError(f"model set {name!r}: {key} = {table[key]!r}: must be a number of gigabytes")
    for key in ("speed", "use_for"):
        if key in table and not isinstance(table[key], str):
            raise EngineError(f"model set {name!r}: {key} = {table[key]!r}: must be text")
    return SetFacts(**table)


def get_model_set(name: str, data_dir: Path | None = None) -> ModelSet:
    sets = load_model_sets(data_dir)
    if name not in sets:
        raise EngineError(f"unknown model set {name!r}; known: {', '.join(sorted(sets))}")
    return sets[name]


def engine_factory(engine: str) -> EngineFactory:
    """The factory of a built-in engine name or a `module:attr` path; EngineError when it cannot be found."""
    target = BUILTIN_ENGINES.get(engine, engine)
    module_name, _, attr = target.partition(":")
    if not attr:
        raise EngineError(f"unknown engine {engine!r}; built-in engines: {', '.join(sorted(BUILTIN_ENGINES))}")
    try:
        factory: EngineFactory = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise EngineError(f"engine {engine!r} cannot be loaded from {target}: {exc}") from exc
    return factory


def load_engine(name: str, data_dir: Path, device: str | None = None) -> Engine:
    """Load the engine for model set `name` (weights are read here; can take a while)."""
    model_set = get_model_set(name, data_dir)
    return engine_factory(model_set.engine).load(model_set, data_dir, device)
