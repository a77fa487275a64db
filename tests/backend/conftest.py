"""Backend suite set-up: reproducible property tests in CI, a client for a module's live server."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings
from live_server import LiveServer

from underpaint.client import ServerClient

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
