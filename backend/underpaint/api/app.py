"""The FastAPI application: services up at start, routes, limits, auth, errors.

`create_app(settings)` is all `underpaint serve` needs; tests start the same
app in a real uvicorn process.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI

from underpaint import __version__
from underpaint.engines.pool import EngineLoader, LocalWorkers, Workers, detect_devices
from underpaint.engines.registry import load_engine
from underpaint.jobs.kinds import discover
from underpaint.jobs.queue import JobQueue
from underpaint.server.catalog import ModelCatalog
from underpaint.server.retention import Retention
from underpaint.server.services import open_services

from . import health, jobs, shots, styles, takes, uploads
from .auth import RequireToken
from .deps import Server
from .errors import ERROR_RESPONSES, install_error_handlers
from .events import EventHub
from .limits import BodyLimit
from .options import AllowedMethods
from .origin import LOOPBACK_HOSTS, SameOrigin

# Every route is under it, set once here.
API_PREFIX = "/v1"


@dataclass(frozen=True)
class ServerSettings:
    data_dir: Path
    token: str | None = None
    max_upload_bytes: int = 1 << 30
    max_json_bytes: int = 1 << 20
    devices: list[str] | None = None  # None: every CUDA GPU, else MPS, else the CPU
    default_model: str | None = None  # None: the first available model set
    engine_loader: EngineLoader = field(default=load_engine)
    # Host names requests may use (`origin.SameOrigin`); None: any (bound beyond loopback, with a token).
    allowed_hosts: frozenset[str] | None = LOOPBACK_HOSTS
    # Days after which failed takes and unreferenced uploads are removed (`server.retention`); None: kept.
    retention_days: float | None = None
    # Who paints: None: this machine's devices (`devices`, `engine_loader`); else, say, the actors of a Ray
    # cluster (`underpaint.cluster.workers.RayWorkers`), closed with the server.
    workers: Workers | None = None


def open_workers(settings: ServerSettings) -> Workers:
    if settings.workers is not None:
        return settings.workers
    return LocalWorkers(settings.data_dir, settings.devices or detect_devices(), settings.engine_loader)


def create_app(settings: ServerSettings) -> FastAPI:
    kinds = discover()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings.data_dir, settings.max_upload_bytes)
        catalog = ModelCatalog(settings.data_dir, settings.default_model)
        services.default_model = catalog.default_model
        # The workers wait for the catalog's warm-up to import the engines (diffusers, transformers): two
        # threads importing them at once can fail, as transformers' lazy imports are not thread-safe.
        workers = open_workers(settings)
        queue = JobQueue(services, kinds, workers, ready=catalog.warm)
        hub = EventHub()
        hub.bind(asyncio.get_running_loop())
        queue.subscribe(hub.notify)
        app.state.server = Server(services, queue, hub, catalog, settings.token)
        threading.Thread(target=catalog.warm_up, name="model-catalog", daemon=True).start()
        queue.start()
        retention = None
        if settings.retention_days is not None:
            retention = Retention(services, settings.retention_days, queue.submitting)
            retention.start()
        try:
            yield
        finally:
            if retention is not None:
                retention.stop()
            queue.stop()
            workers.close()
            services.db.close()

    app = FastAPI(
        title="Underpaint render server",
        version=__version__,
        description="Paints over Blender blocking with ControlNet video diffusion. API v1.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    for router in (health.router, uploads.router, jobs.router(kinds), takes.router, shots.router, styles.router):
        app.include_router(router, prefix=API_PREFIX, responses=ERROR_RESPONSES)
    app.add_middleware(BodyLimit, json_bytes=settings.max_json_bytes, upload_bytes=settings.max_upload_bytes)
    app.add_middleware(AllowedMethods)
    app.add_middleware(SameOrigin, hosts=settings.allowed_hosts)
    if settings.token is not None:
        app.add_middleware(RequireToken, token=settings.token)  # added last: runs first, before any body is read
    return app
