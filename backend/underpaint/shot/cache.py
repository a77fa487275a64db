"""Shot packages assembled from uploaded blobs, each fully decoded once, then trusted by its hash."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from underpaint.blobs import BlobStore

from .package import ShotPackage, assemble_package, validate_package

T = TypeVar("T")
# Values derived from whole shots kept at once (a shot-wide depth range reads every frame's depth).
DERIVED_KEPT = 16


class ShotPackages:
    """The server's shot packages by shot.json sha256: validated on first use (every file decoded), then
    only assembled, since a blob's content cannot change under its hash."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._validated: set[str] = set()
        self._derived: OrderedDict[tuple[str, str], Any] = OrderedDict()
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

    def derived(self, package: ShotPackage, name: str, compute: Callable[[ShotPackage], T]) -> T:
        """`compute(package)`, once per shot and name while it is among the last DERIVED_KEPT used: a
        package cannot change under its hash, so neither can what is computed from all of it."""
        key = (package.sha256 or "", name)
        with self._lock:
            if key in self._derived:
                self._derived.move_to_end(key)
                return self._derived[key]  # type: ignore[no-any-return]
        value = compute(package)
        with self._lock:
            self._derived[key] = value
            while len(self._derived) > DERIVED_KEPT:
                self._derived.popitem(last=False)
        return value
