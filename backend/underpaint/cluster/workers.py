"""`RayWorkers`: the queue's workers as actors of a Ray cluster, and what `/v1/health` shows of the cluster.

One actor per GPU of the cluster (`num_gpus=1`) by default; on a cluster
without GPUs, `--workers N` actors share the cores (`num_cpus` = cores / N,
which is also each actor's torch threads). An actor that dies is started
again by Ray (`max_restarts=-1`) as soon as the cluster has room for it; the
job it was painting fails with `worker_lost` (`jobs.queue` says why it is not
queued again). The actors belong to the server's Ray driver: when the server
stops, Ray stops them, and a restarted server starts its own.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import ray

from underpaint.engines.base import Engine, EngineError
from underpaint.engines.registry import engine_factory, get_model_set

from .actor import PaintActor
from .remote_engine import RemoteEngine
from .settings import LOCAL, RaySettings

log = logging.getLogger("underpaint.cluster")
# Seconds `/v1/health` waits for an actor to describe itself (a busy one answers on its own thread).
DESCRIBE_SECONDS = 2.0
NAMESPACE = "underpaint"


class RaySlot:
    """One queue worker's actor: the engine of a set, reached there, and the set the actor holds."""

    def __init__(self, name: str, actor: Any, data_dir: Path) -> None:
        self.name = name
        self.actor = actor
        self.data_dir = data_dir
        self._loaded: str | None = None

    @property
    def loaded(self) -> str | None:
        return self._loaded

    def get(self, name: str) -> Engine:
        model_set = get_model_set(name, self.data_dir)
        capabilities = engine_factory(model_set.engine).capabilities(model_set, self.data_dir)
        self._loaded = name  # the actor loads it with the job's first call
        return RemoteEngine(self.actor, self.name, model_set.engine, name, capabilities, self._lost)

    def release(self) -> None:
        self._loaded = None

    def _lost(self) -> None:
        self._loaded = None  # Ray starts the actor again, with nothing loaded


class RayWorkers:
    """The cluster's paint actors, one queue worker each (named `ray:0`, `ray:1`, ...)."""

    def __init__(self, address: str, actors: list[Any], resources: dict[str, float], data_dir: Path) -> None:
        self.address = address
        self.names = [f"ray:{i}" for i in range(len(actors))]
        self._slots = {name: RaySlot(name, actor, data_dir) for name, actor in zip(self.names, actors, strict=True)}
        self._resources = resources

    @classmethod
    def connect(cls, settings: RaySettings, data_dir: Path) -> RayWorkers:
        """Join (or, for `local`, start) the cluster and start the paint actors (they load nothing yet)."""
        address = "local" if settings.address == LOCAL else settings.address
        try:
            ray.init(address=address, namespace=NAMESPACE, include_dashboard=False,
                               log_to_driver=False, configure_logging=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise EngineError(f"cannot reach the Ray cluster at {settings.address!r} ({exc}); start it with "
                              "`ray start --head` or pass --ray local") from exc
        total = ray.cluster_resources()
        gpus = int(total.get("GPU", 0))
        count = settings.workers or max(1, gpus)
        if gpus:
            resources: dict[str, float] = {"num_gpus": 1, "num_cpus": 1}
        else:
            resources = {"num_cpus": max(1, int(total.get("CPU", 1)) // count)}
        remote = ray.remote(PaintActor).options(max_restarts=-1, max_task_retries=0, max_concurrency=4,
                                                **resources)
        actors = [remote.remote(str(data_dir)) for _ in range(count)]
        joined = ray.get_runtime_context().gcs_address
        log.info("Ray cluster %s: %d paint actors (%s each)", joined, count, resources)
        return cls(joined, actors, resources, data_dir)

    def slot(self, name: str) -> RaySlot:
        return self._slots[name]

    def device(self, name: str) -> str | None:
        return None

    def describe(self) -> dict[str, Any]:
        """The cluster's nodes (cores, GPUs, alive) and each actor (node, process, device, set loaded)."""
        nodes = [
            {"id": node["NodeID"], "address": node["NodeManagerAddress"], "alive": bool(node["Alive"]),
             "cpus": node["Resources"].get("CPU", 0), "gpus": node["Resources"].get("GPU", 0)}
            for node in ray.nodes()
        ]
        pending = {name: slot.actor.describe.remote() for name, slot in self._slots.items()}
        ready, _ = ray.wait(list(pending.values()), num_returns=len(pending), timeout=DESCRIBE_SECONDS)
        actors = []
        for name, ref in pending.items():
            entry: dict[str, Any] = {"worker": name, "state": "starting", "resources": self._resources}
            if ref in ready:
                try:
                    entry.update(state="alive", **ray.get(ref))
                except ray.exceptions.RayError as exc:
                    entry.update(state="lost", error=type(exc).__name__)
            actors.append(entry)
        return {"address": self.address, "nodes": nodes, "actors": actors}

    def close(self) -> None:
        """Leave the cluster: Ray stops this server's actors (and a `local` cluster altogether)."""
        ray.shutdown()
