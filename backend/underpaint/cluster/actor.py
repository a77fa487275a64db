"""The paint actor: one per GPU (or per share of a CPU-only node's cores), engines kept loaded between jobs.

It runs on a cluster node, in a Ray worker process, and paints whatever
`PaintRequest` the server sends it with the node's own copy of the model sets
(the data directory at the server's path: a shared mount, or a copy with the
sets pulled). `paint` is a streaming generator: each message is yielded as
soon as it exists, in order —

    ("step", done, total)          after every denoising step
    ("frames", FrameChunk)         frames final from now on
    ("checkpoint", state)          resumable state to save (after the frames it leaves out)
    ("done",) | ("cancelled",) | ("engine_error", message)   the end

The engine paints on a thread of its own, so a step is streamed when it ends
and not only with the next frames, and `cancel` (answered on another of the
actor's threads) stops the painting at its next step.
"""

from __future__ import annotations

import hashlib
import os
import queue
import socket
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from underpaint.engines.base import Cancelled, EngineError, PaintRequest, StyleRef
from underpaint.engines.pool import EngineCache

# Messages that end a paint's stream.
ENDS = ("done", "cancelled", "engine_error")
# Style LoRAs the server sent, by content hash, on this node (written once, read by every job).
STYLE_CACHE = Path(tempfile.gettempdir()) / "underpaint-styles"


class StreamedCheckpoint:
    """The engine's `Checkpoint` on the actor: reads the state the server sent, streams every save back."""

    def __init__(self, state: dict[str, np.ndarray] | None, outbox: queue.Queue[tuple[Any, ...]]) -> None:
        self._state = state
        self._outbox = outbox

    def load(self) -> dict[str, np.ndarray] | None:
        return self._state

    def save(self, state: dict[str, np.ndarray]) -> None:
        self._state = state
        self._outbox.put(("checkpoint", state))


class PaintActor:
    """Made a Ray actor by `cluster.workers` (`ray.remote(PaintActor).options(...)`)."""

    def __init__(self, data_dir: str) -> None:
        import ray
        import torch

        resources = ray.get_runtime_context().get_assigned_resources()
        self.threads = max(1, int(resources.get("CPU", 1)))
        torch.set_num_threads(self.threads)  # its share of the node's cores: N actors on 2 cores only fight
        self.device = "cuda:0" if resources.get("GPU") and torch.cuda.is_available() else "cpu"
        self.node = ray.get_runtime_context().get_node_id()
        self._engines = EngineCache(Path(data_dir), self.device)
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        """What `/v1/health` shows of this actor."""
        return {"node": self.node, "host": socket.gethostname(), "pid": os.getpid(), "device": self.device,
                "threads": self.threads, "model_set": self._engines.loaded}

    def work_units(self, model_set: str, request: PaintRequest) -> tuple[str, Any]:
        """("ok", units) or ("engine_error", message): loads the set first when another one is loaded."""
        try:
            return "ok", self._engines.get(model_set).work_units(request)
        except EngineError as exc:
            return "engine_error", str(exc)

    def cancel(self, call: str) -> None:
        """Stop paint `call` at its next step (or before its first, when it has not started yet)."""
        self._event(call).set()

    def paint(
        self, call: str, model_set: str, request: PaintRequest, styles: list[tuple[StyleRef, bytes]],
        resume: dict[str, np.ndarray] | None, checkpointing: bool,
    ) -> Iterator[tuple[Any, ...]]:
        """Paint `request` with `model_set`, streaming the messages above; `call` names it for `cancel`."""
        cancel = self._event(call)
        outbox: queue.Queue[tuple[Any, ...]] = queue.Queue()

        def on_step(done: int, total: int) -> None:
            if cancel.is_set():
                raise Cancelled()
            outbox.put(("step", done, total))

        def work() -> None:
            try:
                checkpoint = StreamedCheckpoint(resume, outbox) if checkpointing else None
                here = replace(request, styles=[stored_style(ref, data) for ref, data in styles],
                               checkpoint=checkpoint)
                for chunk in self._engines.get(model_set).paint(here, on_step):
                    outbox.put(("frames", chunk))
                    if cancel.is_set():
                        raise Cancelled()
                outbox.put(("done",))
            except Cancelled:
                outbox.put(("cancelled",))
            except EngineError as exc:
                outbox.put(("engine_error", str(exc)))
            except BaseException as exc:  # anything else fails the job on the server, with its traceback
                outbox.put(("raise", exc))

        threading.Thread(target=work, name=f"paint-{call}", daemon=True).start()
        try:
            while True:
                message = outbox.get()
                if message[0] == "raise":
                    raise message[1]
                yield message
                if message[0] in ENDS:
                    return
        finally:
            with self._lock:
                self._cancel.pop(call, None)

    def _event(self, call: str) -> threading.Event:
        with self._lock:
            return self._cancel.setdefault(call, threading.Event())


def stored_style(ref: StyleRef, data: bytes) -> StyleRef:
    """The style's LoRA written on this node (once per content), and the ref pointing at it."""
    digest = hashlib.sha256(data).hexdigest()
    path = STYLE_CACHE / f"{digest}{Path(ref.path).suffix}"
    if not path.is_file():
        STYLE_CACHE.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=STYLE_CACHE, delete=False) as handle:
            handle.write(data)
        os.replace(handle.name, path)
    return replace(ref, path=str(path))
