"""The model catalog behind `/v1/health` and `underpaint models`: every set, what it can do, whether it is here.

What a set can do and whether it is here are its engine factory's answers
(`EngineFactory`), given without network: local paths must exist, Hugging
Face ids must be in the local HF cache.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from underpaint.engines.base import Capabilities, EngineError
from underpaint.engines.registry import ModelSet, SetFacts, engine_factory, load_model_sets

log = logging.getLogger("underpaint.server")


@dataclass(frozen=True)
class ModelInfo:
    """A model set as `/v1/health` and `underpaint models` show it."""

    name: str
    engine: str
    description: str
    available: bool
    detail: str
    # None when the set's table cannot be read (`detail` says why).
    capabilities: Capabilities | None
    built_locally: bool = False
    facts: SetFacts = field(default_factory=SetFacts)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "engine": self.engine, "available": self.available,
                               "description": self.description, "detail": self.detail,
                               "built_locally": self.built_locally, **self.facts.to_json()}
        if self.capabilities is not None:
            out.update(self.capabilities.to_json())
        return out


def describe_model_set(model_set: ModelSet, data_dir: Path) -> ModelInfo:
    """What the set can do and whether it loads without downloading; a broken table is reported, not raised."""
    info: dict[str, Any] = {"name": model_set.name, "engine": model_set.engine, "description": model_set.description,
                            "built_locally": model_set.built_locally, "facts": model_set.facts}
    try:
        factory = engine_factory(model_set.engine)
        capabilities = factory.capabilities(model_set, data_dir)
        components = factory.components(model_set, data_dir)
    except EngineError as exc:
        return ModelInfo(**info, available=False, detail=str(exc), capabilities=None)
    absent = [f"{c.role}={c.location}" for c in components if not c.present]
    detail = (
        f"not found locally: {', '.join(absent)}; run `underpaint models pull {model_set.name}`" if absent else ""
    )
    return ModelInfo(**info, available=not absent, detail=detail, capabilities=capabilities)


def model_catalog(data_dir: Path) -> list[ModelInfo]:
    """Every model set of the registry with its capabilities and availability, in registry order.

    A broken `models.toml` raises `EngineError` naming the file.
    """
    return [describe_model_set(model_set, data_dir) for model_set in load_model_sets(data_dir).values()]


def pick_default_model(catalog: list[ModelInfo]) -> str | None:
    """The first available model set of real weights; None when there is none (a set built locally from
    random weights, `tiny`, is never picked: it would paint noise and call it done)."""
    for info in catalog:
        if info.available and not info.built_locally:
            return info.name
    return None


class ModelCatalog:
    """Model sets, their capabilities and availability for the health endpoint, never slow.

    The engines' factories answer without importing diffusers. `warm_up`
    (a background thread at server start) imports each engine's libraries once
    (`EngineFactory.preload`) before any worker loads a model set: two threads
    importing them at once can fail, as transformers' lazy imports are not
    thread-safe. `warm` is set once `warm_up` has returned, whether or not
    every engine imported.
    """

    def __init__(self, data_dir: Path, default_model: str | None = None) -> None:
        self.data_dir = data_dir
        self._default = default_model
        self.warm = threading.Event()

    def warm_up(self) -> None:
        try:
            for engine in sorted({m.engine for m in load_model_sets(self.data_dir).values()}):
                engine_factory(engine).preload()
        except Exception as exc:  # reported when a job loads the engine; the server keeps serving
            log.warning("importing the engines: %s", exc)
        finally:
            self.warm.set()

    def models(self) -> list[ModelInfo]:
        return model_catalog(self.data_dir)

    def default_model(self) -> str | None:
        if self._default:
            return self._default
        try:
            return pick_default_model(self.models())
        except EngineError:
            return None
