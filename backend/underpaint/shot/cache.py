"""Shot packages assembled from uploaded blobs, each fully decoded once, then trusted by its hash."""

from __future__ import annotations

import threading

from underpaint.blobs import BlobStore

from .package import ShotPackage, assemble_package, validate_package


class ShotPackages:
    """The server's shot packages by shot.json sha256: validated on first use (every file decoded), then
    only assembled, since a blob's content cannot change under its hash."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._validated: set[str] = set()
        self._lock = threading.Lock()

    def get(self, shot_sha256: str) -> ShotPackage:
        package = assemble_package(shot_sha256, self.blobs)
        with self._lock:
            known = shot_sha256 in self._validated
        if not known:
            validate_package(package)
            with self._lock:
                self._validated.add(shot_sha256)
        return package
