"""The workers' engines: one worker per device, and one cached engine per worker.

Loading a model set takes seconds to minutes, so each worker keeps the last
engine it loaded and reuses it while jobs ask for the same set. Light to
import (torch only when asked), as the server imports it at start.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable
from pathlib import Path

from .base import Engine
from .registry import load_engine

EngineLoader = Callable[[str, Path, "str | None"], Engine]


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


def detect_devices() -> list[str]:
    """One entry per worker: every CUDA GPU, else Apple's MPS, else the CPU."""
    import torch

    if torch.cuda.is_available():
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        return ["mps"]
    return ["cpu"]
