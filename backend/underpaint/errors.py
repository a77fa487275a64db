"""Errors the artist (or the add-on) can act on, each with a stable code.

Anything that rejects bad input raises `InputError`; the HTTP layer turns it
into `{"error": {"code", "message"}}` with its status, the job worker records
it as the job's error, and the CLI prints the message. One type, so every
layer says the same thing about the same problem.
"""

from __future__ import annotations

import errno
import shutil
import sqlite3
from pathlib import Path


class InputError(ValueError):
    """Bad input: a missing file, a wrong size, an unknown name. `code` is snake_case and stable."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class NotFound(InputError):
    """A job, take, blob or frame that does not exist."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(code, message, status=404)


def is_disk_full(exc: BaseException) -> bool:
    """Whether `exc` is the disk (or the database on it) running out of space."""
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return True
    return isinstance(exc, sqlite3.OperationalError) and "full" in str(exc).lower()


def disk_full(folder: Path, needed: int | None = None) -> InputError:
    """The 507 `disk_full` error, naming the folder and its free space (and what was needed)."""
    free = shutil.disk_usage(folder).free if folder.exists() else 0
    need = f"; this needs about {needed / 1e6:.0f} MB" if needed else ""
    return InputError(
        "disk_full",
        f"the data directory {folder} has {free / 1e6:.0f} MB free{need}: free some space (`underpaint gc` "
        "removes what no take needs) and try again",
        507,
    )
