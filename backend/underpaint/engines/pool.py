"""The workers' engines: one worker per device, and one cached engine per worker.

Loading a model set takes seconds to minutes, so each worker keeps the last
engine it loaded and reuses it while jobs ask for the same set. Light to
import (torch only when asked), as the server imports it at start.

The job queue sees workers only as `Workers` (their names, and an
`EngineSlot` each): `LocalWorkers` paint on this machine's devices,
`underpaint.cluster.RayWorkers` on actors of a Ray cluster.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from .base import Engine
from .registry import load_engine

EngineLoader = Callable[[str, Path, "str | None"], Engine]


class EngineSlot(Protocol):
    """One worker's engines: the engine of a model set (loaded, or reached), and the set it holds now."""

    def get(self, name: str) -> Engine: ...

    def release(self) -> None: ...

    @property
    def loaded(self) -> str | None:
        """The model set this worker holds loaded (None: none yet)."""
        ...


class Workers(Protocol):
    """The queue's workers: one job at a time each, by name (shown in `/v1/health`)."""

    names: list[str]

    def slot(self, name: str) -> EngineSlot:
        """The engines of worker `name` (called once, on that worker's thread)."""
        ...

    def device(self, name: str) -> str | None:
        """The local torch device the worker's other jobs (style training) run on; None: the best one here."""
        ...

    def describe(self) -> dict[str, Any] | None:
        """What `/v1/health` shows beyond the workers (a cluster's nodes and actors); None: nothing."""
        ...

    def close(self) -> None:
        """Let the workers' resources go (after the queue stopped)."""
        ...


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

    @property
    def loaded(self) -> str | None:
        return self._name

    def release(self) -> None:
        """Drop the loaded engine and give its memory back before another one loads."""
        self._engine, self._name = None, None
        gc.collect()
        if self.device and self.device.startswith("cuda"):
            import torch

            torch.cuda.empty_cache()


class LocalWorkers:
    """One worker per device of this machine, each keeping its last engine loaded."""

    def __init__(self, data_dir: Path, devices: list[str], loader: EngineLoader = load_engine) -> None:
        self.data_dir = data_dir
        self.names = list(devices)
        self._loader = loader

    def slot(self, name: str) -> EngineCache:
        return EngineCache(self.data_dir, name, self._loader)

    def device(self, name: str) -> str | None:
        return name

    def describe(self) -> dict[str, Any] | None:
        return None

    def close(self) -> None:
        return None


def detect_devices() -> list[str]:
    """One entry per worker: every CUDA GPU, else Apple's MPS, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        return ["mps"]
    return ["cpu"]
