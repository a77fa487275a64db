"""Backend suite set-up: reproducible property tests in CI, the tiny models built once, a client for a
module's live server."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from live_server import LiveServer

from underpaint.client import ServerClient
from underpaint.engines.animatediff.tiny import ensure_tiny_models
from underpaint.engines.wan_vace.tiny import ensure_tiny_vace

# A fresh data directory whose `models/` holds the tiny sets the session built once.
DataDirFactory = Callable[[str], Path]

# Locally hypothesis explores new examples every run; CI replays a fixed sequence so a
# red build always reproduces (a counterexample found locally becomes a regression test).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[ServerClient]:
    """A client of the module's `server` fixture: each module that uses it starts its own `LiveServer`."""
    with ServerClient(server.url) as c:
        yield c


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny sets (animatediff and wan-vace), built once for the whole session, in a data dir's layout."""
    folder = tmp_path_factory.mktemp("tiny-models")
    ensure_tiny_models(folder)
    ensure_tiny_vace(folder)
    return folder / "models"


@pytest.fixture(scope="session")
def data_dirs(tmp_path_factory: pytest.TempPathFactory, tiny_models: Path) -> DataDirFactory:
    """`data_dirs(name)`: a new data directory (its own database, takes, styles) sharing the tiny models.

    The models are only read (a set is built once per version, `engines.builds`), so one copy serves
    every module and every server process.
    """

    def make(name: str) -> Path:
        folder = tmp_path_factory.mktemp(name)
        (folder / "models").symlink_to(tiny_models, target_is_directory=True)
        return folder

    return make
