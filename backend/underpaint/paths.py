"""Where Underpaint keeps its data: job database, takes, styles, cached tiny models."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DATA_DIR = "UNDERPAINT_DATA_DIR"


def data_dir(override: str | os.PathLike[str] | None = None) -> Path:
    """The data directory: `override`, else $UNDERPAINT_DATA_DIR, else the platform's user data dir.

    Created on first use so every caller can write into it straight away.
    """
    chosen = override or os.environ.get(ENV_DATA_DIR) or platformdirs.user_data_dir("underpaint", appauthor=False)
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path
