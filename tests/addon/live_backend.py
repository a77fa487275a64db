"""The backend's own test helpers, run in the backend's environment, for the add-on tests.

The add-on tests run in Blender's Python, which has neither the backend's packages nor
httpx, so `BackendServer` starts a small host process in the backend's venv that runs
tests/backend/live_server.py's `LiveServer` (the one server starter of the test suites)
and prints its address; closing the host's stdin stops it. `write_shot` writes a
synthetic shot package with tests/backend/shots.py the same way. No `bpy` here: the
bpy-free job module tests use these too.
"""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BACKEND_PYTHON = os.environ.get("UNDERPAINT_BACKEND_PYTHON") or str(ROOT / ".venv" / "bin" / "python")
BACKEND_TESTS = ROOT / "tests" / "backend"
START_SECONDS = 180

_HOST = """
import sys
from pathlib import Path
from live_server import LiveServer
from toy_engine import register_toy_engine

data_dir = Path(sys.argv[1])
for name in sys.argv[2].split(",") if sys.argv[2] else []:
    register_toy_engine(data_dir, name, step_delay=0.02)
with LiveServer(data_dir, *sys.argv[3:]) as server:
    print(server.url, flush=True)
    sys.stdin.read()
"""


def _environment() -> dict[str, str]:
    paths = [str(BACKEND_TESTS), str(ROOT / "backend"), os.environ.get("PYTHONPATH", "")]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in paths if p))


class BackendServer:
    """`underpaint serve` on a free loopback port with its own data folder, started by `LiveServer`.

    `toy` names toy-engine model sets (tests/backend/toy_engine.py) to register first.
    """

    def __init__(self, data_dir: Path, *args: str, toy: tuple[str, ...] = ()) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.log = data_dir.parent / f"{data_dir.name}-host.log"
        with self.log.open("wb") as log:
            self._host = subprocess.Popen(
                [BACKEND_PYTHON, "-c", _HOST, str(data_dir), ",".join(toy), *args],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, env=_environment(), text=True,
            )
        assert self._host.stdout is not None
        self.url = self._host.stdout.readline().strip()
        if not self.url.startswith("http://"):
            self._host.wait(30)
            raise RuntimeError(f"the backend server did not start: {self.log.read_text()[-3000:]}")

    def get(self, path: str) -> dict[str, Any]:
        with urllib.request.urlopen(self.url + path, timeout=10) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        """Close the host's stdin: `LiveServer` stops the server, then the host exits."""
        if self._host.poll() is None:
            assert self._host.stdin is not None
            self._host.stdin.close()
            try:
                self._host.wait(60)
            except subprocess.TimeoutExpired:
                self._host.kill()
                self._host.wait()


def write_shot(directory: Path, **options: Any) -> Path:
    """A synthetic shot package (tests/backend/shots.py's `write_shot`) written in the backend's environment."""
    code = "import json, sys; from shots import write_shot; write_shot(sys.argv[1], **json.loads(sys.argv[2]))"
    subprocess.run([BACKEND_PYTHON, "-c", code, str(directory), json.dumps(options)], check=True,
                   env=_environment(), timeout=120)
    return directory
