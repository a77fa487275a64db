"""Takes: the painted frames of one run over a shot, immutable once finished.

A take lives in `<data dir>/takes/<take id>/NNNN.png` (Blender frame
numbers) with its metadata, frame list and lineage (`parent`) in the SQLite
database. The rules that keep work safe:

- a frame file appears only by atomic rename after its bytes are on disk,
  and its row is committed before anyone is told about it;
- a frame is written once; a finished take (done, failed, cancelled) takes no
  more frames and never changes — a re-render or refinement is a new take;
- after a crash, a take left `running` is marked failed with the frames it
  has kept (`recover`).
"""

from __future__ import annotations

import builtins
import hashlib
import json
import re
import shutil
import sqlite3
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from underpaint.database import Database, now_iso
from underpaint.errors import NotFound, disk_full
from underpaint.images import encode_png, read_png, write_atomic

DB_FILE = "underpaint.db"
TAKES_DIR = "takes"
TAKE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
FINISHED = ("done", "failed", "cancelled")
# Free space kept for the database and the job's records beyond a take's frames.
MARGIN_BYTES = 16 << 20

SCHEMA = """
CREATE TABLE IF NOT EXISTS takes (
    id TEXT PRIMARY KEY,
    shot TEXT NOT NULL,
    shot_sha TEXT,
    kind TEXT NOT NULL,
    parent TEXT REFERENCES takes(id),
    params TEXT NOT NULL,
    state TEXT NOT NULL,
    frame_start INTEGER NOT NULL,
    frame_end INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    created TEXT NOT NULL,
    finished TEXT,
    control TEXT NOT NULL,
    metrics TEXT NOT NULL,
    work_units INTEGER NOT NULL,
    error TEXT
);
CREATE INDEX IF NOT EXISTS takes_by_shot ON takes(shot, created);
CREATE TABLE IF NOT EXISTS frames (
    take TEXT NOT NULL REFERENCES takes(id),
    frame INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    written TEXT NOT NULL,
    PRIMARY KEY (take, frame)
);
"""


class TakeImmutable(RuntimeError):
    """A write to a finished take, or a second write of one frame: takes never change once written."""


@dataclass(frozen=True)
class Take:
    id: str
    shot: str
    shot_sha: str | None
    kind: str
    parent: str | None
    params: dict[str, Any]
    state: str
    frames: list[int]
    frame_start: int
    frame_end: int
    width: int
    height: int
    created: str
    finished: str | None
    control: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    work_units: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The take as `GET /v1/takes/{take}` reports it."""
        return {
            "id": self.id, "shot": self.shot, "shot_sha": self.shot_sha, "kind": self.kind,
            "parent": self.parent, "params": self.params, "state": self.state, "frames": self.frames,
            "frame_start": self.frame_start, "frame_end": self.frame_end, "width": self.width,
            "height": self.height, "created": self.created, "finished": self.finished,
            "control": self.control, "metrics": self.metrics, "work_units": self.work_units,
            "error": self.error,
        }


def frame_file_name(frame: int) -> str:
    return f"{frame:04d}.png"


def _slug(shot: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", shot.lower()).strip("-")[:40]
    return slug or "shot"


def check_take_id(take_id: str) -> str:
    if not isinstance(take_id, str) or not TAKE_ID.match(take_id):
        raise NotFound("unknown_take", f"no take {str(take_id)[:80]!r}")
    return take_id


class TakeStore:
    def __init__(self, db: Database, root: Path) -> None:
        self.db = db
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        db.ensure_schema(SCHEMA)

    @classmethod
    def open(cls, data_dir: Path) -> TakeStore:
        """The take store of a data directory (what the server and `underpaint stylize` share)."""
        return cls(Database(Path(data_dir) / DB_FILE), Path(data_dir) / TAKES_DIR)

    def directory(self, take_id: str) -> Path:
        return self.root / check_take_id(take_id)

    def create(
        self,
        *,
        shot: str,
        shot_sha: str | None,
        kind: str,
        params: dict[str, Any],
        frame_start: int,
        frame_end: int,
        width: int,
        height: int,
        parent: str | None = None,
        control: dict[str, Any] | None = None,
        work_units: int = 0,
    ) -> Take:
        """A new running take named `<shot slug>-NNN`, numbered per shot."""
        if parent is not None:
            self.get(parent)
        slug = _slug(shot)
        with self.db.transaction() as conn:
            count = conn.execute("SELECT COUNT(*) FROM takes WHERE id LIKE ?", (f"{slug}-%",)).fetchone()[0]
            number = count + 1
            while True:
                take_id = f"{slug}-{number:03d}"
                try:
                    conn.execute(
                        "INSERT INTO takes (id, shot, shot_sha, kind, parent, params, state, frame_start, frame_end,"
                        " width, height, created, control, metrics, work_units)"
                        " VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?, ?, '{}', ?)",
                        (take_id, shot, shot_sha, kind, parent, json.dumps(params), frame_start, frame_end,
                         width, height, now_iso(), json.dumps(control or {}), work_units),
                    )
                    break
                except sqlite3.IntegrityError:
                    number += 1
        self.directory(take_id).mkdir(parents=True, exist_ok=True)
        return self.get(take_id)

    def check_room(self, frames: int, width: int, height: int) -> None:
        """Refuse (507 `disk_full`) a take that clearly cannot fit: its PNGs need about half their raw size
        (painted frames compress little), plus a margin for the database."""
        needed = frames * width * height * 3 // 2 + MARGIN_BYTES
        self.root.mkdir(parents=True, exist_ok=True)
        if shutil.disk_usage(self.root).free < needed:
            raise disk_full(self.root.parent, needed)

    def write_frame(self, take_id: str, frame: int, rgb: np.ndarray) -> Path:
        """Encode and store one painted frame (uint8 RGB at the take's size)."""
        take = self._running(take_id)
        if rgb.shape != (take.height, take.width, 3):
            raise ValueError(f"frame {frame} is {rgb.shape}, take {take_id} is {take.width}x{take.height}")
        return self.write_frame_png(take_id, frame, encode_png(rgb))

    def write_frame_png(self, take_id: str, frame: int, data: bytes) -> Path:
        """Store already-encoded PNG bytes as a frame (compositing copies parent frames byte for byte)."""
        take = self._running(take_id)
        if not take.frame_start <= frame <= take.frame_end:
            raise TakeImmutable(f"frame {frame} is outside take {take_id} ({take.frame_start}-{take.frame_end})")
        path = self.directory(take_id) / frame_file_name(frame)
        if frame in take.frames or path.exists():
            raise TakeImmutable(f"take {take_id} already has frame {frame}")
        write_atomic(path, data)
        self.db.execute(
            "INSERT INTO frames (take, frame, sha256, written) VALUES (?, ?, ?, ?)",
            (take_id, frame, hashlib.sha256(data).hexdigest(), now_iso()),
        )
        return path

    def finish(self, take_id: str, state: str, metrics: dict[str, Any] | None = None, error: str | None = None) -> Take:
        """Seal a running take as done, failed or cancelled (merging `metrics` into its record)."""
        if state not in FINISHED:
            raise ValueError(f"a take finishes as one of {FINISHED}, not {state!r}")
        take = self._running(take_id)
        merged = {**take.metrics, **(metrics or {})}
        self.db.execute(
            "UPDATE takes SET state = ?, finished = ?, metrics = ?, error = ? WHERE id = ? AND state = 'running'",
            (state, now_iso(), json.dumps(merged), error, take_id),
        )
        return self.get(take_id)

    def delete(self, take_id: str) -> None:
        """Forget a failed or cancelled take's rows (housekeeping removes its folder first); never a done one."""
        take = self.get(take_id)
        if take.state not in ("failed", "cancelled"):
            raise TakeImmutable(f"take {take_id} is {take.state}; only failed or cancelled takes are removed")
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM frames WHERE take = ?", (take_id,))
            conn.execute("DELETE FROM takes WHERE id = ?", (take_id,))

    def get(self, take_id: str) -> Take:
        rows = self.db.query("SELECT * FROM takes WHERE id = ?", (check_take_id(take_id),))
        if not rows:
            raise NotFound("unknown_take", f"no take {take_id!r}")
        return self._take(rows[0])

    def list(self, shot: str | None = None) -> list[Take]:
        """All takes, or those of one shot (by name), oldest first."""
        if shot is None:
            rows = self.db.query("SELECT * FROM takes ORDER BY created, id")
        else:
            rows = self.db.query("SELECT * FROM takes WHERE shot = ? ORDER BY created, id", (shot,))
        return [self._take(row) for row in rows]

    def frame_path(self, take_id: str, frame: int) -> Path:
        """The file of a written frame; a frame not (yet) written is `NotFound`."""
        rows = self.db.query("SELECT 1 FROM frames WHERE take = ? AND frame = ?", (check_take_id(take_id), frame))
        if not rows:
            self.get(take_id)
            raise NotFound("unknown_frame", f"take {take_id} has no frame {frame}")
        return self.directory(take_id) / frame_file_name(frame)

    def read_frame(self, take_id: str, frame: int) -> np.ndarray:
        take = self.get(take_id)
        return read_png(self.frame_path(take_id, frame), "RGB", (take.width, take.height))

    def running(self) -> builtins.list[str]:
        return [row["id"] for row in self.db.query("SELECT id FROM takes WHERE state = 'running'")]

    def recover(self, resuming: Collection[str] = ()) -> builtins.list[Take]:
        """After a crash: keep every complete frame file, and mark takes left running as failed, but for
        those in `resuming` (their job resumes into them), which stay running."""
        recovered = []
        for row in self.db.query("SELECT id FROM takes WHERE state = 'running'"):
            take_id = row["id"]
            directory = self.directory(take_id)
            for stale in directory.glob(".*.tmp"):
                stale.unlink(missing_ok=True)
            known = set(self.get(take_id).frames)
            for path in sorted(directory.glob("*.png")):
                number = int(path.stem)
                if number not in known:
                    digest = hashlib.sha256(path.read_bytes()).hexdigest()
                    self.db.execute(
                        "INSERT INTO frames (take, frame, sha256, written) VALUES (?, ?, ?, ?)",
                        (take_id, number, digest, now_iso()),
                    )
            kept = len(self.get(take_id).frames)
            if take_id in resuming:
                continue
            recovered.append(self.finish(
                take_id, "failed", error=f"interrupted: the server stopped while painting; {kept} frames kept"
            ))
        return recovered

    def _running(self, take_id: str) -> Take:
        take = self.get(take_id)
        if take.state != "running":
            raise TakeImmutable(f"take {take_id} is {take.state}; finished takes never change")
        return take

    def _take(self, row: sqlite3.Row) -> Take:
        frames = [r[0] for r in self.db.query("SELECT frame FROM frames WHERE take = ? ORDER BY frame", (row["id"],))]
        return Take(
            id=row["id"], shot=row["shot"], shot_sha=row["shot_sha"], kind=row["kind"], parent=row["parent"],
            params=json.loads(row["params"]), state=row["state"], frames=frames,
            frame_start=row["frame_start"], frame_end=row["frame_end"], width=row["width"], height=row["height"],
            created=row["created"], finished=row["finished"], control=json.loads(row["control"]),
            metrics=json.loads(row["metrics"]), work_units=row["work_units"], error=row["error"],
        )

