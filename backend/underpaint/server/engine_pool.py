"""Engines for the workers: which devices to run on, one cached engine per worker, model availability.

Loading a model set takes seconds to minutes, so each worker keeps the last
engine it loaded and reuses it while jobs ask for the same set. Availability
is answered without network: local paths must exist, Hugging Face ids must be
in the local HF cache; an engine may answer for itself with a
`is_available(model_set, data_dir)` attribute on its factory.
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from underpaint.engines.base import Engine, EngineError
from underpaint.engines.registry import ModelSet, engine_factory, load_engine, load_model_sets

EngineLoader = Callable[[str, Path, "str | None"], Engine]


def detect_devices() -> list[str]:
    """One entry per worker: every CUDA GPU, else Apple's MPS, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        return ["mps"]
    return ["cpu"]


class EngineCache:
    """The engine one worker painted with last, kept loaded for the next job with the same model set."""

    def __init__(self, data_dir: Path, device: str | None, loader: EngineLoader = load_engine) -> None:
        self.data_dir = data_dir
        self.device = device
        self._loader = loader
        self._name: str | None = None
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    def get(self, name: str) -> Engine:
        with self._lock:
            if self._engine is None or self._name != name:
                self.release()
                self._engine = self._loader(name, self.data_dir, self.device)
                self._name = name
            return self._engine

    def release(self) -> None:
        """Drop the loaded engine and give its memory back before another one loads."""
        self._engine, self._name = None, None
        gc.collect()
        if self.device and self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


@dataclass(frozen=True)
class ModelInfo:
    name: str
    engine: str
    description: str
    available: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "engine": self.engine, "available": self.available,
                "description": self.description, "detail": self.detail}


def _hub_cache() -> Path:
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def _component_found(value: str, data_dir: Path) -> bool:
    """A local path exists (relative paths are relative to the data dir), or a hub id is in the HF cache."""
    value = value.replace("{data_dir}", str(data_dir))
    candidate = Path(os.path.expanduser(value))
    if not candidate.is_absolute():
        candidate = data_dir / candidate
    if candidate.exists():
        return True
    parts = value.split("/")
    if len(parts) == 2 and all(parts) and not value.startswith((".", "~")):
        snapshots = _hub_cache() / f"models--{parts[0]}--{parts[1]}" / "snapshots"
        return snapshots.is_dir() and any(snapshots.iterdir())
    return False


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested TOML tables (`[set.controlnets]`) as dotted keys."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _looks_like_model(value: Any) -> bool:
    return isinstance(value, str) and ("/" in value or value.endswith((".safetensors", ".ckpt", ".bin")))


def model_available(model_set: ModelSet, data_dir: Path, ask_engine: bool = True) -> tuple[bool, str]:
    """Whether `model_set` can load without downloading, and why not."""
    if ask_engine:
        try:
            factory = engine_factory(model_set.engine)
        except (ImportError, AttributeError, EngineError) as exc:
            return False, f"engine {model_set.engine!r} cannot be loaded: {exc}"
        check = getattr(factory, "is_available", None)
        if callable(check):
            try:
                if check(model_set, data_dir=data_dir):
                    return True, ""
            except Exception as exc:  # an availability probe must never take the server down
                return False, f"availability check failed: {exc}"
            found, detail = model_available(model_set, data_dir, ask_engine=False)
            return False, (detail if not found else f"not found locally; run `underpaint models pull {model_set.name}`")
    if model_set.components.get("builder"):
        return True, "built locally on first use"
    values = _flatten(model_set.components)
    missing = [
        f"{key}={value}" for key, value in values.items()
        if _looks_like_model(value) and not _component_found(value, data_dir)
    ]
    if missing:
        return False, f"not found locally: {', '.join(missing)}; run `underpaint models pull {model_set.name}`"
    return True, ""


def model_catalog(data_dir: Path, ask_engine: bool = True) -> list[ModelInfo]:
    """Every model set of the registry with its availability, in registry order.

    A broken `models.toml` raises `EngineError` naming the file.
    """
    out = []
    for model_set in load_model_sets(data_dir).values():
        available, detail = model_available(model_set, data_dir, ask_engine)
        out.append(ModelInfo(model_set.name, model_set.engine, model_set.description, available, detail))
    return out


def pick_default_model(catalog: list[ModelInfo]) -> str | None:
    """The first available model set, else the first one listed."""
    for info in catalog:
        if info.available:
            return info.name
    return catalog[0].name if catalog else None


class ModelCatalog:
    """Model sets and their availability for the health endpoint, never slow.

    Importing an engine (diffusers, torch) takes seconds, so until `warm_up`
    has imported the engines once (on a background thread at server start),
    availability is judged from the registry data alone. `warm` is set once
    `warm_up` has returned, whether or not every engine imported.
    """

    def __init__(self, data_dir: Path, default_model: str | None = None) -> None:
        self.data_dir = data_dir
        self._default = default_model
        self.warm = threading.Event()

    def warm_up(self) -> None:
        try:
            model_catalog(self.data_dir, ask_engine=True)
        except EngineError:
            pass  # reported by models() on every call
        finally:
            self.warm.set()

    def models(self) -> list[ModelInfo]:
        return model_catalog(self.data_dir, ask_engine=self.warm.is_set())

    def default_model(self) -> str | None:
        if self._default:
            return self._default
        try:
            return pick_default_model(self.models())
        except EngineError:
            return None
