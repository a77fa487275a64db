"""GET /v1/health: what this server is and what it can paint with."""

from __future__ import annotations

import logging

from fastapi import APIRouter

from underpaint import __version__
from underpaint.engines.base import EngineError

from .deps import ServerDep
from .models import ClusterOut, HealthOut, ModelOut, WorkerOut

router = APIRouter()
log = logging.getLogger("underpaint.api")


@router.get("/health", response_model=HealthOut)
def health(server: ServerDep) -> HealthOut:
    try:
        models = server.catalog.models()
    except EngineError as exc:
        log.warning("model registry: %s", exc)
        models = []
    devices = server.queue.devices
    cluster = server.queue.cluster()
    return HealthOut(
        status="ok" if server.queue.healthy() else "degraded",
        workers=[WorkerOut(**w.to_json()) for w in server.queue.workers.values()],
        version=__version__,
        device=devices[0],
        devices=devices,
        engines=sorted({m.engine for m in models}),
        models=[ModelOut(**m.to_json()) for m in models],
        default_model=server.catalog.default_model(),
        auth_required=server.token is not None,
        job_kinds=sorted(server.queue.kinds),
        cluster=None if cluster is None else ClusterOut.model_validate(cluster),
    )
