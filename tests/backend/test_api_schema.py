"""A bounded schemathesis run (`--checks all`) against a live server: every route, generated requests.

The OpenAPI document is the contract the add-on, the CLI and a studio's tools are written
against; this holds the server to it: no 5xx, every response and status as documented (the
error envelope included), requests outside the schema refused, `OPTIONS` and 405s listing the
methods served. Deterministic generation, so CI runs the same cases every time; what a
schema-valid request may still be refused with is configured, and said why, in schemathesis.toml.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from live_server import LiveServer
from toy_engine import register_toy_engine

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 20


def test_the_server_keeps_to_its_openapi_document(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    register_toy_engine(data_dir, "toy")
    with LiveServer(data_dir, "--model", "toy") as live:
        run = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
             f"{live.url}/openapi.json", "--checks", "all", "--max-examples", str(EXAMPLES_PER_OPERATION),
             "--workers", "1", "--generation-deterministic"],
            capture_output=True, text=True, timeout=600, cwd=tmp_path,
        )
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout.split("SUMMARY")[-1]
