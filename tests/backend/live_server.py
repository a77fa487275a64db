"""A real `underpaint serve` process on a free loopback port, for API tests and benchmarks.

    with LiveServer(data_dir) as server:
        client = ServerClient(server.url)

The server runs exactly as an artist starts it (the CLI, uvicorn, its own
process), with the toy engine importable (`TOY_ENGINE_DIR` on PYTHONPATH).
`kill()` sends SIGKILL: no shutdown code runs, as in a crash.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
from toy_engine import TOY_ENGINE_DIR

START_TIMEOUT = 90.0
LAUNCH = "import sys; from underpaint.cli import main; sys.exit(main(sys.argv[1:]))"


class LiveServer:
    def __init__(self, data_dir: Path, *args: str, token: str | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.args = list(args)
        self.token = token
        self.url = ""
        self.process: subprocess.Popen[str] | None = None
        self.log = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    def command(self) -> list[str]:
        cmd = [sys.executable, "-c", LAUNCH, "serve", "--port", "0", "--data-dir", str(self.data_dir), *self.args]
        return cmd + (["--token", self.token] if self.token else [])

    def start(self) -> LiveServer:
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [TOY_ENGINE_DIR, os.environ.get("PYTHONPATH")])))
        log = self.log.open("a")
        self.process = subprocess.Popen(self.command(), stdout=subprocess.PIPE, stderr=log, text=True, env=env)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        match = re.search(r"http://\S+", line)
        if match is None:
            self.process.wait(10)
            raise RuntimeError(f"server did not start: {line!r}\n{self.log.read_text()[-3000:]}")
        self.url = match.group(0)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", headers=headers, timeout=5).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"server at {self.url} never became healthy\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL, like a crash or the OOM killer: nothing gets to clean up."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
