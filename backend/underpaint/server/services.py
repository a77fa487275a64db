"""The server's wiring: the stores of one data directory, opened once and shared by the API and workers."""

from __future__ import annotations

from pathlib import Path

from underpaint.blobs import BlobStore
from underpaint.database import Database
from underpaint.jobs.context import Services
from underpaint.jobs.store import JobStore
from underpaint.paint.context import StyleResolver
from underpaint.shot.cache import ShotPackages
from underpaint.styles.registry import resolve_style
from underpaint.takes.checkpoints import CheckpointStore
from underpaint.takes.store import DB_FILE, TAKES_DIR, TakeStore


def style_resolver(data_dir: Path) -> StyleResolver:
    """The style registry's `resolve_style(name, weight, data_dir)`, bound to this data directory."""
    return lambda name, weight: resolve_style(name, weight, data_dir)


def open_services(data_dir: Path, max_upload_bytes: int = 1 << 30) -> Services:
    """The stores of one data directory: database, blobs, takes, jobs, shot packages, checkpoints."""
    db = Database(data_dir / DB_FILE)
    blobs = BlobStore(data_dir / "blobs", max_upload_bytes)
    return Services(
        data_dir=data_dir,
        db=db,
        blobs=blobs,
        takes=TakeStore(db, data_dir / TAKES_DIR),
        jobs=JobStore(db),
        packages=ShotPackages(blobs),
        resolve_style=style_resolver(data_dir),
        checkpoints=CheckpointStore(data_dir),
    )
