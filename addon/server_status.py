"""The server's health as the panel shows it, checked off the main thread.

While Blender has a UI, the add-on's timer (`job_timer.tick`) starts a small check
thread every few seconds and takes its result in on the main thread, so the
panel can say "connected", "not running", "wrong token" or "version mismatch"
(and list the model sets, their controls and sizes, and the styles) without a network
call while drawing.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import bpy

from . import client as api
from . import model_sets, preferences
from .jobs.worker import drain

STATUS_EVERY_SECONDS = 3.0


def preferences_client(context: bpy.types.Context | None = None) -> api.Client:
    """A client for the server in the add-on preferences or their environment variables (address normalised)."""
    url = preferences.setting("server_url", context)
    return api.Client(preferences.normalize_server_url(url), preferences.setting("token", context))


@dataclass
class ServerStatus:
    """What the panel shows about the server. `state`: unknown | connected | not_running | wrong_token |
    version_mismatch | error. Written by `apply()` on the main thread only."""

    state: str = "unknown"
    message: str = "Not checked yet"
    version: str = ""
    device: str = ""
    models: list[dict[str, Any]] = field(default_factory=list)
    default_model: str = ""
    styles: list[str] = field(default_factory=list)
    client: api.Client | None = None
    _checked_at: float = 0.0
    _thread: threading.Thread | None = None
    _results: queue.SimpleQueue[dict[str, Any]] = field(default_factory=queue.SimpleQueue)

    def request(self, client: api.Client) -> None:
        """Watch this server (the add-on preferences' address and token); check it soon."""
        if self.client != client:
            self.client = client
            self._checked_at = 0.0

    def recheck(self) -> None:
        """Check again at the next tick (after starting a server, changing the address, ...)."""
        self._checked_at = 0.0

    def maybe_check(self) -> None:
        if self.client is None or (self._thread is not None and self._thread.is_alive()):
            return
        if time.monotonic() - self._checked_at < STATUS_EVERY_SECONDS:
            return
        self._checked_at = time.monotonic()
        self._thread = threading.Thread(target=self._check, args=(self.client,), daemon=True,
                                        name="underpaint-health")
        self._thread.start()

    def check_now(self, client: api.Client) -> None:
        """Check synchronously (background mode only, where there is no UI to freeze)."""
        self.client = client
        self._check(client)
        self.apply()

    def _check(self, client: api.Client) -> None:
        self._results.put(health_result(client))

    def apply(self) -> bool:
        changed = False
        for result in drain(self._results):
            changed = True
            for name, value in result.items():
                setattr(self, name, value)
        return changed

    def model_names(self) -> list[str]:
        return [str(m.get("name")) for m in self.models]

    def model_set(self, name: str) -> model_sets.ModelSet | None:
        """What the last health check said of model set `name` (empty: the server's default), if anything."""
        return model_sets.find(self.models, name.strip() or self.default_model)


def health_result(client: api.Client) -> dict[str, Any]:
    """One health check as the fields of `ServerStatus` (runs in a worker thread)."""
    quick = api.Client(client.base_url, client.token, timeout=min(client.timeout, 3.0))
    try:
        info = quick.health()
    except api.VersionMismatch as exc:
        return {"state": "version_mismatch", "message": str(exc)}
    except api.WrongToken as exc:
        return {"state": "wrong_token", "message": str(exc)}
    except api.ServerNotRunning as exc:
        return {"state": "not_running", "message": str(exc)}
    except api.ServerError as exc:
        return {"state": "error", "message": str(exc)}
    try:
        styles = [str(s.get("name")) for s in quick.styles()]
    except api.ServerError:
        styles = []
    return {
        "state": "connected",
        "message": f"Connected: Underpaint {info.get('version')} on {info.get('device')}",
        "version": str(info.get("version", "")),
        "device": str(info.get("device", "")),
        "models": list(info.get("models", [])),
        "default_model": str(info.get("default_model") or ""),
        "styles": styles,
    }


STATUS = ServerStatus()
