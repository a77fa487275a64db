"""Content-addressed blob store: files named by the sha256 of their bytes.

A client uploads each file of a shot package once; a blob's name is its hash,
so an identical file is never sent twice and a stored blob can never change.
A blob becomes visible only by an atomic rename after its hash was checked and
its bytes reached the disk, so a crash leaves either the whole blob or nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from underpaint.errors import InputError, NotFound
from underpaint.images import umask_mode

SHA256 = re.compile(r"^[0-9a-f]{64}$")
CHUNK = 1 << 20


def check_sha256(value: str) -> str:
    """Refuse anything but 64 lowercase hex digits (blob names reach the file system)."""
    if not isinstance(value, str) or not SHA256.match(value):
        raise InputError("invalid_sha256", f"not a sha256 (64 lowercase hex digits): {str(value)[:80]!r}")
    return value


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True)
class BlobInfo:
    sha256: str
    size: int


class BlobWriter:
    """Receives one upload chunk by chunk, hashing as it goes, within a size limit."""

    def __init__(self, store: BlobStore, expected_sha256: str | None, max_bytes: int) -> None:
        self._store = store
        self._expected = check_sha256(expected_sha256) if expected_sha256 else None
        self._max = max_bytes
        self._digest = hashlib.sha256()
        self._size = 0
        fd, name = tempfile.mkstemp(prefix=".upload-", suffix=".tmp", dir=store.root)
        os.fchmod(fd, umask_mode())
        self._tmp = Path(name)
        self._file: BinaryIO = os.fdopen(fd, "wb")

    def write(self, chunk: bytes) -> None:
        self._size += len(chunk)
        if self._size > self._max:
            self.abort()
            raise InputError("too_large", f"upload exceeds the server's limit of {self._max} bytes", status=413)
        self._digest.update(chunk)
        self._file.write(chunk)

    def commit(self) -> BlobInfo:
        """Check the hash, flush to disk and publish the blob under its name."""
        sha = self._digest.hexdigest()
        if self._expected is not None and sha != self._expected:
            self.abort()
            raise InputError("hash_mismatch", f"uploaded bytes hash to {sha}, not the announced {self._expected}")
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            final = self._store.path(sha)
            final.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self._tmp, final)
        except BaseException:
            self.abort()  # a full disk or a failed rename leaves no temporary file behind
            raise
        return BlobInfo(sha, self._size)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class BlobStore:
    """Blobs under `root/ab/abcdef...` (two-level fan-out keeps directories small)."""

    def __init__(self, root: Path, max_bytes: int = 1 << 30) -> None:
        self.root = root
        self.max_bytes = max_bytes
        root.mkdir(parents=True, exist_ok=True)
        for stale in root.glob(".upload-*.tmp"):
            stale.unlink(missing_ok=True)

    def path(self, sha256: str) -> Path:
        check_sha256(sha256)
        return self.root / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def iter_blobs(self) -> Iterator[tuple[str, Path]]:
        """Every stored blob as (sha256, path); uploads still in flight are not blobs yet."""
        for path in sorted(self.root.glob("??/*")):
            if SHA256.match(path.name) and path.is_file():
                yield path.name, path

    def missing(self, shas: list[str]) -> list[str]:
        """The hashes of `shas` this store lacks, in the order given, each once."""
        seen: set[str] = set()
        out = []
        for sha in shas:
            if sha not in seen and not self.has(sha):
                out.append(sha)
            seen.add(sha)
        return out

    def writer(self, expected_sha256: str | None = None) -> BlobWriter:
        return BlobWriter(self, expected_sha256, self.max_bytes)

    def put(self, data: bytes, expected_sha256: str | None = None) -> BlobInfo:
        writer = self.writer(expected_sha256)
        writer.write(data)
        return writer.commit()

    def read(self, sha256: str, max_bytes: int) -> bytes:
        """A small blob's bytes (shot.json, pose.json); refuses blobs over `max_bytes`."""
        path = self.require(sha256)
        size = path.stat().st_size
        if size > max_bytes:
            raise InputError("too_large", f"blob {sha256} is {size} bytes; at most {max_bytes} allowed here", 413)
        return path.read_bytes()

    def require(self, sha256: str) -> Path:
        path = self.path(sha256)
        if not path.is_file():
            raise NotFound("unknown_blob", f"no blob {sha256} on the server; upload it first")
        return path
