"""With a token configured, every request must carry `Authorization: Bearer <token>` (401 otherwise).

A middleware rather than a route dependency, so that it also guards what no router of ours declares —
FastAPI's own `/docs`, `/redoc` and `/openapi.json`, unknown paths — and refuses a request before any
of its body is read.
"""

from __future__ import annotations

import hmac

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response


class RequireToken:
    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not self._authorized(Headers(scope=scope)):
            response = error_response(
                401,
                "unauthorized",
                "this server needs 'Authorization: Bearer <token>' (see the add-on preferences)",
                {"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, headers: Headers) -> bool:
        scheme, _, given = headers.get("authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.token)
