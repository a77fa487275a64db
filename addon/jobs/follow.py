"""Following a server job to its final state: its event stream when the server has one, polling otherwise.

A dropped connection is retried a few times (a restarted server keeps its jobs); a server
that stays away fails the job with the reason.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .. import client as api

SERVER_FINAL = ("done", "failed", "cancelled")
# A dropped connection is retried this often, RECONNECT_PAUSE_SECONDS apart, before the job is failed.
RECONNECT_TRIES = 4
RECONNECT_PAUSE_SECONDS = 0.5
POLL_SECONDS = 0.25
# Longer than the server's keep-alive interval (15 s), so only a stalled stream times out.
EVENT_READ_TIMEOUT = 40.0


def follow(client: api.Client, server_id: str, on_state: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Call `on_state(job)` with every state the server reports until a final one, and return that."""
    failures = 0
    use_events = True
    while True:
        try:
            if use_events:
                for event in client.job_events(server_id, timeout=EVENT_READ_TIMEOUT):
                    failures = 0
                    on_state(event)
                    if event.get("state") in SERVER_FINAL:
                        return event
            else:
                time.sleep(POLL_SECONDS)
            event = client.job(server_id)  # the stream ended early, or there is none: ask
            failures = 0
            on_state(event)
            if event.get("state") in SERVER_FINAL:
                return event
        except api.ServerNotRunning as exc:
            failures += 1
            if failures >= RECONNECT_TRIES:
                raise api.ServerNotRunning(
                    "connection_lost",
                    f"Lost the connection to the server while job {server_id} was running. {exc}",
                ) from None
            time.sleep(RECONNECT_PAUSE_SECONDS)
        except api.ServerError as exc:
            if exc.code == "timeout":
                continue  # a quiet stream: reconnect
            if use_events and exc.code in ("not_underpaint", "http_405"):
                use_events = False  # this server has no event stream
                continue
            raise
