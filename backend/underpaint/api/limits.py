"""Request body limits, enforced before any route parses a byte.

JSON bodies are small (a job, a list of hashes): anything over the JSON limit
is refused with 413 instead of being parsed. Blob uploads stream to disk and
are capped by the blob store itself; an announced Content-Length over the
upload limit is refused up front.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import error_response

UPLOAD_PATH = "/v1/blobs"


class BodyLimit:
    def __init__(self, app: ASGIApp, json_bytes: int, upload_bytes: int) -> None:
        self.app = app
        self.json_bytes = json_bytes
        self.upload_bytes = upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        upload = scope["path"] == UPLOAD_PATH
        limit = self.upload_bytes if upload else self.json_bytes
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await self._refuse(scope, receive, send, limit)
            return
        if upload:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(scope, receive, send, limit)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(bytes(body), receive), send)

    @staticmethod
    async def _refuse(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = error_response(413, "too_large", f"the request body exceeds this endpoint's limit of {limit} bytes")
        await response(scope, receive, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands the already-read body to the app, then defers to the real one."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
