"""Backend suite set-up: reproducible property tests in CI."""

from __future__ import annotations

import os

from hypothesis import settings

# Locally hypothesis explores new examples every run; CI replays a fixed sequence so a
# red build always reproduces (a counterexample found locally becomes a regression test).
settings.register_profile("ci", derandomize=True, deadline=None)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
