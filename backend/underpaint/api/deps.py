"""What routes receive through `Depends`: the authenticated caller and the server's services."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from underpaint.blobs import BlobStore
from underpaint.jobs.context import Services
from underpaint.jobs.queue import JobQueue
from underpaint.server.catalog import ModelCatalog
from underpaint.takes.store import TakeStore

from .events import EventHub


@dataclass
class Server:
    """The running server's parts, kept on `app.state.server` for the app's lifetime."""

    services: Services
    queue: JobQueue
    hub: EventHub
    catalog: ModelCatalog
    token: str | None


def get_server(request: Request) -> Server:
    return request.app.state.server


def get_queue(request: Request) -> JobQueue:
    return get_server(request).queue


def get_blobs(request: Request) -> BlobStore:
    return get_server(request).services.blobs


def get_takes(request: Request) -> TakeStore:
    return get_server(request).services.takes


ServerDep = Annotated[Server, Depends(get_server)]
QueueDep = Annotated[JobQueue, Depends(get_queue)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]
TakesDep = Annotated[TakeStore, Depends(get_takes)]
