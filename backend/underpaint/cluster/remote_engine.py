"""`RemoteEngine`: the `Engine` a queue worker paints with when its engine lives in a Ray actor.

It sends the request whole (arrays through Ray's object store, style LoRAs as
their bytes, the checkpoint's last state) and turns the actor's stream back
into what a local engine does: `on_step` per step (which may raise to stop:
the actor is told to cancel, and stops at its next step), frames yielded as
they come, checkpoints saved in order after the frames they leave out. An
actor that dies mid-paint (its node lost, its process killed) raises
`WorkerLost`; the frames yielded before stay final.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import ray
from ray.exceptions import NodeDiedError, ObjectLostError, RayActorError, WorkerCrashedError

from underpaint.engines.base import (
    Cancelled,
    Capabilities,
    EngineError,
    FrameChunk,
    PaintRequest,
    StepCallback,
    StyleRef,
    WorkerLost,
)

# What Ray raises when the process (or node) running an actor is gone.
LOST = (RayActorError, WorkerCrashedError, ObjectLostError, NodeDiedError)


class RemoteEngine:
    """Model set `model_set` painted by one actor. `on_lost` is told when the actor went away."""

    def __init__(
        self, actor: Any, worker: str, engine: str, model_set: str, capabilities: Capabilities,
        on_lost: Callable[[], None],
    ) -> None:
        self._actor = actor
        self._worker = worker
        self.name = engine
        self.model_set = model_set
        self._capabilities = capabilities
        self._on_lost = on_lost

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def work_units(self, request: PaintRequest) -> int:
        with self._lost():
            status, value = ray.get(self._actor.work_units.remote(self.model_set, replace(request, checkpoint=None)))
        if status == "engine_error":
            raise EngineError(value)
        return int(value)

    def paint(self, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        call = uuid.uuid4().hex
        resume = request.checkpoint.load() if request.checkpoint is not None else None
        sent = replace(request, checkpoint=None, styles=[])
        styles = [(ref, _read(ref)) for ref in request.styles]
        stream = self._actor.paint.remote(call, self.model_set, sent, styles, resume, request.checkpoint is not None)
        return self._receive(stream, call, request, on_step)

    def _receive(self, stream: Any, call: str, request: PaintRequest, on_step: StepCallback) -> Iterator[FrameChunk]:
        try:
            with self._lost():
                for ref in stream:
                    message = ray.get(ref)
                    kind = message[0]
                    if kind == "step":
                        on_step(message[1], message[2])
                    elif kind == "frames":
                        yield message[1]
                    elif kind == "checkpoint":
                        assert request.checkpoint is not None
                        request.checkpoint.save(message[1])
                    elif kind == "cancelled":
                        raise Cancelled()
                    elif kind == "engine_error":
                        raise EngineError(message[1])
                    elif kind == "done":
                        return
        except BaseException:  # the caller stopped it (a cancel, a shutdown, an error writing frames), or it ended
            self._actor.cancel.remote(call)  # a no-op for a paint that ended or an actor that is gone
            raise

    @contextmanager
    def _lost(self) -> Iterator[None]:
        """Ray's errors for a vanished actor, as `WorkerLost` (the worker's slot is told)."""
        try:
            yield
        except LOST as exc:
            self._on_lost()
            raise WorkerLost(f"the Ray actor of worker {self._worker} was lost mid-paint "
                             f"({type(exc).__name__}: its node went down or its process was killed)") from exc


def _read(ref: StyleRef) -> bytes:
    try:
        return Path(ref.path).read_bytes()
    except OSError as exc:
        raise EngineError(f"style {ref.name or ref.path!r}: cannot read its LoRA file ({exc.strerror})") from exc
