"""'Start local server': run `underpaint serve` beside Blender, and stop it with Blender.

The command is the add-on preferences' backend command (the `underpaint`
executable of the backend's environment, or e.g. `/path/python -m
underpaint.cli`), started for the preferences' server address and token. Its
output goes to a log file so a server that fails to start can say why.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import shlex
import subprocess
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

from . import client as api

LOOPBACK_NAMES = ("localhost",)
# `underpaint serve` reads its access token from here when no --token is given.
TOKEN_ENV = "UNDERPAINT_TOKEN"
STOP_TIMEOUT_SECONDS = 5.0

_process: subprocess.Popen[bytes] | None = None
_log_path: Path | None = None


class StartError(RuntimeError):
    """The local server cannot be started; the message says what to change."""


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def command_line(backend_command: str, server_url: str, data_dir: str = "") -> list[str]:
    """The argv that serves `server_url` (which must be on this machine) with `backend_command`."""
    parts = urlsplit(server_url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    if not _is_loopback(host):
        raise StartError(
            f"The server address {server_url} is not on this machine: 'Start Local Server' only starts a server "
            "on 127.0.0.1. Start it on that machine with `underpaint serve`, or change the address."
        )
    try:
        argv = shlex.split(backend_command)
    except ValueError as exc:
        raise StartError(f"The backend command {backend_command!r} cannot be parsed: {exc}") from None
    if not argv:
        raise StartError("No backend command: set the `underpaint` executable in the add-on preferences.")
    argv += ["serve", "--host", host if host != "localhost" else "127.0.0.1", "--port", str(port)]
    if data_dir:
        argv += ["--data-dir", data_dir]
    return argv


def start(backend_command: str, server_url: str, token: str = "", data_dir: str = "") -> subprocess.Popen[bytes]:
    """Start the server unless the one started here is still running; returns the process."""
    global _process, _log_path
    if is_running():
        assert _process is not None
        return _process
    argv = command_line(backend_command, server_url, data_dir)
    # The token travels in the environment, not on the command line, where any user's `ps` would show it;
    # without one, a token set in Blender's own environment must not lock the add-on out.
    environment = {name: value for name, value in os.environ.items() if name != TOKEN_ENV}
    if token:
        environment[TOKEN_ENV] = token
    _log_path = Path(tempfile.gettempdir()) / f"underpaint-serve-{urlsplit(server_url).port}.log"
    log = _log_path.open("wb")
    try:
        _process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=environment)
    except OSError as exc:
        raise StartError(
            f"Cannot run the backend command {argv[0]!r} ({exc.strerror or exc}): set the path to the `underpaint` "
            "executable of the backend's environment in the Underpaint add-on preferences."
        ) from None
    finally:
        log.close()
    return _process


def is_running() -> bool:
    return _process is not None and _process.poll() is None


def exit_problem() -> str:
    """Why the server started here stopped by itself ('' while it runs or if none was started)."""
    if _process is None or _process.poll() is None:
        return ""
    tail = log_tail()
    return f"The local server exited with code {_process.returncode}" + (f": {tail}" if tail else ".")


def log_tail(lines: int = 3) -> str:
    if _log_path is None or not _log_path.exists():
        return ""
    text = _log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
    return " | ".join(text[-lines:])


def wait_until_ready(client: api.Client, timeout: float = 60.0) -> dict:
    """Background mode: block until the started server answers its health check (or fails to start)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return client.health()
        except api.ServerNotRunning:
            problem = exit_problem()
            if problem:
                raise StartError(problem) from None
            if time.monotonic() > deadline:
                raise StartError(
                    f"The local server did not answer within {timeout:.0f} s; its log: {log_tail() or _log_path}"
                ) from None
            time.sleep(0.25)


def stop() -> None:
    """Stop the server started here (terminate, then kill if it does not exit in time)."""
    global _process
    process, _process = _process, None
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=STOP_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def register() -> None:
    atexit.register(stop)


def unregister() -> None:
    stop()
    atexit.unregister(stop)
