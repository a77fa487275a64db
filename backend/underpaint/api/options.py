"""`OPTIONS` on any path answers which methods that path serves (`Allow`), as HTTP says it should.

FastAPI routes no OPTIONS of their own, so without this a client (or a schema-driven checker)
asking a path what it supports gets 405 and no list. The methods come from the app's own
OpenAPI document, which is what the server serves. There is no CORS here: a browser's
preflight gets the same answer and no `Access-Control-Allow-*`, so a foreign page is still not
let in (`origin.SameOrigin` refuses its requests anyway).
"""

from __future__ import annotations

import re
from typing import Any

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head")


def path_methods(openapi: dict[str, Any]) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each OpenAPI path template as a pattern, with the methods it serves (HEAD wherever GET is)."""
    table = []
    for template, operations in openapi.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        methods = {m.upper() for m in operations if m in HTTP_METHODS}
        if "GET" in methods:
            methods.add("HEAD")
        table.append((re.compile(pattern + r"\Z"), frozenset(methods | {"OPTIONS"})))
    return table


class AllowedMethods:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._table: list[tuple[re.Pattern[str], frozenset[str]]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return
        if self._table is None:
            self._table = path_methods(scope["app"].openapi())
        methods = set().union(*(m for pattern, m in self._table if pattern.match(scope["path"])))
        response: Response
        if methods:
            response = Response(status_code=204, headers={"Allow": ", ".join(sorted(methods))})
        else:
            response = error_response(404, "not_found", f"nothing is served at {scope['path']}")
        await response(scope, receive, send)
