"""The SQLite database of jobs, takes and frames (one file in WAL mode).

WAL lets the API read job state while a worker writes progress; with
`synchronous=NORMAL` a committed row survives the process being killed, which
is what "nothing is lost after kill -9" needs. Each thread gets its own
connection (sqlite3 connections are not shared between threads).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# UTC timestamps in ISO 8601 with microseconds and a Z, as the API reports times.
ISO_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"


def now_iso() -> str:
    """Now, as `ISO_FORMAT`."""
    return datetime.now(UTC).strftime(ISO_FORMAT)


def parse_iso(stamp: str) -> datetime:
    """A timestamp `now_iso` wrote, back as an aware UTC datetime."""
    return datetime.strptime(stamp, ISO_FORMAT).replace(tzinfo=UTC)


class Database:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    def connection(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def execute(self, sql: str, args: tuple[Any, ...] = ()) -> sqlite3.Cursor:
        return self.connection().execute(sql, args)

    def query(self, sql: str, args: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return self.connection().execute(sql, args).fetchall()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the lock up front, so read-modify-write cannot race."""
        conn = self.connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def ensure_schema(self, script: str) -> None:
        self.connection().executescript(script)

    def ensure_column(self, table: str, column: str, declaration: str) -> None:
        """Add `column` to a `table` that an older version created without it (a data dir is kept across
        upgrades)."""
        names = {row["name"] for row in self.query(f"PRAGMA table_info({table})")}
        if column not in names:
            self.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                conn.close()
            self._all.clear()
        self._local = threading.local()
