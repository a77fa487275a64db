"""Checkpoints: the state a running take's painting resumes from after a restart, one file per take.

`<data dir>/checkpoints/<take id>.npz` holds what the engine saved last (arrays
and integers, `numpy.savez`, no pickles), written whole or not at all (a
temporary file, fsynced, renamed into place). The paint services remove it
when the take ends, whatever its end; `underpaint gc` removes any left beside
a take that is no longer running.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import numpy as np

from underpaint.images import write_atomic

log = logging.getLogger(__name__)


class TakeCheckpoint:
    """One take's checkpoint (an engine's `Checkpoint`); `before_save` runs first (the frame writer's flush)."""

    def __init__(self, path: Path, before_save: Callable[[], None] = lambda: None) -> None:
        self.path, self._before_save = path, before_save

    def load(self) -> dict[str, np.ndarray] | None:
        if not self.path.is_file():
            return None
        try:
            with np.load(self.path, allow_pickle=False) as saved:
                return {name: saved[name] for name in saved.files}
        except (OSError, ValueError, zipfile.BadZipFile) as exc:  # never half-written: foreign or damaged
            log.warning("checkpoint %s unreadable (%s); painting from the start", self.path, exc)
            return None

    def save(self, state: dict[str, np.ndarray]) -> None:
        self._before_save()
        buffer = io.BytesIO()
        np.savez(buffer, **cast(dict[str, Any], state))  # the stub reads a key as `allow_pickle`
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, buffer.getvalue())

    def exists(self) -> bool:
        return self.path.is_file()

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)


class CheckpointStore:
    """The checkpoints of one data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.folder = Path(data_dir) / "checkpoints"

    def of(self, take_id: str, before_save: Callable[[], None] = lambda: None) -> TakeCheckpoint:
        return TakeCheckpoint(self.folder / f"{take_id}.npz", before_save)

    def takes(self) -> list[str]:
        """The takes that have a checkpoint."""
        return sorted(path.stem for path in self.folder.glob("*.npz")) if self.folder.is_dir() else []
