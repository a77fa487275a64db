"""Job progress as server-sent events, woken by the workers.

Workers run on their own threads; the event streams live on the server's
event loop. `EventHub.notify` (any thread) wakes the streams following a job;
each stream then reads the job's current row and sends it if it changed. A
burst of updates may collapse into one event, but the last state is always
sent, and the stream ends after a terminal state.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

from underpaint.jobs.queue import JobQueue

KEEPALIVE_SECONDS = 15.0


class EventHub:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiters: dict[str, set[asyncio.Event]] = {}

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def notify(self, job_id: str) -> None:
        """Thread-safe: wake every stream following `job_id`."""
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._wake, job_id)

    def _wake(self, job_id: str) -> None:
        for event in self._waiters.get(job_id, ()):
            event.set()

    @contextmanager
    def subscribe(self, job_id: str) -> Iterator[asyncio.Event]:
        event = asyncio.Event()
        self._waiters.setdefault(job_id, set()).add(event)
        try:
            yield event
        finally:
            waiters = self._waiters.get(job_id, set())
            waiters.discard(event)
            if not waiters:
                self._waiters.pop(job_id, None)


async def job_events(hub: EventHub, queue: JobQueue, job_id: str) -> AsyncIterator[str]:
    """`data: <job JSON>` for every change of the job, until it is done, failed or cancelled."""
    with hub.subscribe(job_id) as changed:
        last = None
        while True:
            changed.clear()
            job = queue.get(job_id)
            data = job.to_json()
            if data != last:
                yield f"data: {json.dumps(data)}\n\n"
                last = data
            if job.terminal:
                return
            try:
                await asyncio.wait_for(changed.wait(), KEEPALIVE_SECONDS)
            except TimeoutError:
                yield ": keep-alive\n\n"
