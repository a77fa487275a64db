"""Housekeeping: what a data directory may forget, and forgetting it safely (`underpaint gc`).

Uploads and failed runs accumulate for ever otherwise. The rules:

- a take that is `done` is never removed, nor any take that another kept take
  descends from (its frames are the kept part of an edit's lineage);
- a failed or cancelled take is removed once it finished longer ago than the
  age limit: its folder first, then its rows, so a crash in between leaves a
  row whose frames are gone (read as missing frames), never a frame file
  without a row;
- a blob is kept while anything may still read it: the shot.json of a kept
  take or of an unfinished job, every file that shot.json lists, and every
  blob a kept take's or unfinished job's params name (reference images,
  masks, training images). A blob newer than the grace period is kept too,
  since a client may be between uploading a shot and submitting its job.

The caller says which blobs unfinished jobs name (`job_references`), so this
module needs only the blob and take stores.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from underpaint.blobs import BlobStore
from underpaint.errors import InputError
from underpaint.shot.package import MAX_SHOT_JSON_BYTES, parse_shot_json

from .checkpoints import CheckpointStore
from .store import Take, TakeStore

_SHA256 = re.compile(r"\b[0-9a-f]{64}\b")
DAY = 86400.0


@dataclass
class Collected:
    """What a collection removed (or, in a dry run, would remove), and the bytes that frees."""

    takes: list[str] = field(default_factory=list)
    blobs: list[str] = field(default_factory=list)
    checkpoints: list[str] = field(default_factory=list)  # by take id
    freed_bytes: int = 0


def hashes_in(value: object) -> set[str]:
    """Every sha256 named anywhere in a JSON-like value (params nest blobs in lists and tables)."""
    return set(_SHA256.findall(json.dumps(value)))


def _finished_before(take: Take, cutoff: float) -> bool:
    if take.finished is None:
        return False
    return datetime.fromisoformat(take.finished).timestamp() < cutoff


def removable_takes(takes: list[Take], older_than_days: float, now: float) -> list[Take]:
    """Failed or cancelled takes finished before the cutoff that no kept take descends from."""
    cutoff = now - older_than_days * DAY
    candidates = {t.id: t for t in takes if t.state in ("failed", "cancelled") and _finished_before(t, cutoff)}
    by_id = {t.id: t for t in takes}
    for take in takes:
        if take.id in candidates:
            continue
        parent = take.parent
        while parent is not None and parent in by_id:  # a kept take keeps its whole lineage
            candidates.pop(parent, None)
            parent = by_id[parent].parent
    return list(candidates.values())


def _referenced_by_shot(blobs: BlobStore, shot_sha: str) -> set[str]:
    """The shot.json blob and every file it lists (a corrupt or absent shot.json references only itself)."""
    if not blobs.has(shot_sha):
        return {shot_sha}
    try:
        shot = parse_shot_json(blobs.read(shot_sha, MAX_SHOT_JSON_BYTES))
    except InputError:
        return {shot_sha}
    return {shot_sha} | {f.sha256 for f in shot.files()}


def referenced_blobs(blobs: BlobStore, kept: Iterable[Take], job_references: Iterable[str]) -> set[str]:
    """Every blob a kept take or an unfinished job may still read."""
    roots = set(job_references)
    for take in kept:
        roots |= hashes_in(take.params)
        if take.shot_sha:
            roots.add(take.shot_sha)
    out: set[str] = set()
    for sha in roots:
        out |= _referenced_by_shot(blobs, sha)  # a plain file blob just references itself
    return out


def collect(
    blobs: BlobStore,
    takes: TakeStore,
    job_references: Iterable[str],
    older_than_days: float = 7.0,
    grace_hours: float = 24.0,
    dry_run: bool = False,
    now: float | None = None,
    checkpoints: CheckpointStore | None = None,
) -> Collected:
    """Remove old failed takes, the blobs nothing references and checkpoints beside a take that is no
    longer running (a crash between sealing a take and removing its checkpoint leaves one); `dry_run`
    only reports them."""
    now = time.time() if now is None else now
    every = takes.list()
    gone = removable_takes(every, older_than_days, now)
    gone_ids = {t.id for t in gone}
    kept = [t for t in every if t.id not in gone_ids]
    result = Collected()
    for take in gone:
        folder = takes.directory(take.id)
        result.freed_bytes += sum(p.stat().st_size for p in folder.glob("*") if p.is_file())
        result.takes.append(take.id)
        if not dry_run:
            shutil.rmtree(folder, ignore_errors=True)
            takes.delete(take.id)
    keep = referenced_blobs(blobs, kept, job_references)
    young = now - grace_hours * 3600.0
    for sha, path in blobs.iter_blobs():
        if sha in keep:
            continue
        stat = path.stat()
        if stat.st_mtime >= young:
            continue
        result.blobs.append(sha)
        result.freed_bytes += stat.st_size
        if not dry_run:
            path.unlink(missing_ok=True)
    running = {t.id for t in every if t.state == "running"}
    stale = [t for t in checkpoints.takes() if t not in running] if checkpoints is not None else []
    for take_id in stale:
        checkpoint = checkpoints.of(take_id)  # type: ignore[union-attr]  # stale is empty without them
        result.checkpoints.append(take_id)
        result.freed_bytes += checkpoint.path.stat().st_size
        if not dry_run:
            checkpoint.remove()
    return result
