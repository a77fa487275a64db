"""No cross-site access: only the server's own host names, its own origin, and typed bodies get in.

A local server without a token is reachable by any web page the artist
opens: by DNS rebinding (evil.example resolving to 127.0.0.1, so the page's
requests carry `Host: evil.example`) and by "simple" cross-site requests
(a form or `fetch` with a `text/plain` body, sent without a CORS preflight).
So, before any route runs:

- `Host` must name an allowed host: the loopback names, the bound address and
  any `--allow-host` (a server bound to every interface with a token accepts
  any Host: the token is the guard there);
- an `Origin`, when a browser sends one, must be an allowed host too (the
  server's own `/docs` page is; `null` never is);
- a POST body must be the type its route reads (`application/json`, or
  `application/octet-stream` for blob uploads), which no page can send to
  another site without a preflight this server never answers.

Blender's add-on and the CLI send no Origin and the right types, so nothing
changes for them.
"""

from __future__ import annotations

from collections.abc import Collection
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from .errors import error_response
from .limits import UPLOAD_PATH

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def host_name(value: str) -> str:
    """'LOCALHOST:8765' -> 'localhost', '[::1]:8765' -> '::1'."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class SameOrigin:
    def __init__(self, app: ASGIApp, hosts: Collection[str] | None) -> None:
        """`hosts`: the host names to accept (None: any, for a server bound beyond loopback with a token)."""
        self.app = app
        self.hosts = None if hosts is None else frozenset(host_name(h) for h in hosts)

    def _allowed(self, host: str) -> bool:
        return self.hosts is None or host_name(host) in self.hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        problem = self._problem(scope, headers)
        if problem is None:
            await self.app(scope, receive, send)
            return
        status, code, message = problem
        await error_response(status, code, message)(scope, receive, send)

    def _problem(self, scope: Scope, headers: Headers) -> tuple[int, str, str] | None:
        host = headers.get("host", "")
        if not self._allowed(host):
            return 403, "forbidden_host", (
                f"this server does not answer to the host name {host_name(host)!r} (a web page reaching a local "
                "server by DNS rebinding sends its own); use 127.0.0.1 or localhost, or start the server with "
                "--allow-host NAME"
            )
        origin = headers.get("origin")
        if origin is not None and (origin == "null" or not self._allowed(urlsplit(origin).netloc)):
            return 403, "forbidden_origin", (
                f"requests from web pages of {origin!r} are refused: only this server's own pages and programs "
                "that send no Origin (the add-on, the CLI, scripts) may use it"
            )
        if scope["method"] == "POST":
            wanted = "application/octet-stream" if scope["path"] == UPLOAD_PATH else "application/json"
            given = headers.get("content-type", "").split(";", 1)[0].strip().lower()
            has_body = headers.get("content-length", "0") != "0" or "transfer-encoding" in headers
            if (given or has_body) and given != wanted:
                return 415, "unsupported_media_type", (
                    f"{scope['path']} takes a {wanted} body, not {given or 'one without a Content-Type'}"
                )
        return None
