"""Content-addressed uploads: POST /v1/blobs and POST /v1/blobs/missing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from underpaint.blobs import SHA256, check_sha256

from .deps import BlobsDep
from .models import BlobOut, MissingIn, MissingOut

router = APIRouter()

OCTET_STREAM_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post("/blobs", response_model=BlobOut, openapi_extra=OCTET_STREAM_BODY)
async def upload_blob(
    request: Request,
    blobs: BlobsDep,
    sha256: Annotated[str | None, Query(description="the sha256 the bytes must have (checked: invalid_sha256)",
                                        json_schema_extra={"pattern": SHA256.pattern})] = None,
) -> BlobOut:
    """Store the raw request body as a blob named by its sha256."""
    writer = blobs.writer(None if sha256 is None else check_sha256(sha256))  # `?sha256=` is a (failing) check
    try:
        async for chunk in request.stream():
            writer.write(chunk)
        info = await run_in_threadpool(writer.commit)
    except BaseException:
        writer.abort()  # the temp file goes whether the body or the commit failed (a full disk, a bad hash)
        raise
    return BlobOut(sha256=info.sha256, size=info.size)


@router.post("/blobs/missing", response_model=MissingOut)
def missing_blobs(body: MissingIn, blobs: BlobsDep) -> MissingOut:
    """Which of these blobs the server lacks: a client uploads only those."""
    return MissingOut(missing=blobs.missing(body.sha256))
