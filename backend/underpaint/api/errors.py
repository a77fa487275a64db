"""Every error leaves the server as `{"error": {"code", "message"}}`, never as a stack trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from underpaint.errors import InputError, disk_full, is_disk_full
from underpaint.shot.package import describe_errors

from .models import ErrorOut

log = logging.getLogger("underpaint.api")

HTTP_CODES = {401: "unauthorized", 404: "not_found", 405: "method_not_allowed", 413: "too_large"}

# Declared on every route, so OpenAPI shows the one error body (`ErrorOut`) and when it comes.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "bad input: the message names the problem and the fix"},
    401: {"model": ErrorOut, "description": "the token is missing or wrong"},
    403: {"model": ErrorOut, "description": "a host name or web page origin this server does not answer"},
    404: {"model": ErrorOut, "description": "no such job, take, blob, frame or style"},
    413: {"model": ErrorOut, "description": "the body is larger than this server accepts"},
    415: {"model": ErrorOut, "description": "the body is not the type the route reads"},
    422: {"model": ErrorOut, "description": "the body or params are invalid (each field named)"},
    500: {"model": ErrorOut, "description": "a server fault; see the server log"},
    507: {"model": ErrorOut, "description": "the data directory's disk is full"},
}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status, headers=headers)


async def _input_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InputError)
    return error_response(exc.status, exc.code, exc.message)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    broken = [e for e in errors if e.get("type") == "json_invalid"]
    if broken:
        reason = broken[0].get("ctx", {}).get("error", "")
        return error_response(400, "malformed_json", f"the request body is not valid JSON ({reason})")
    if request.url.path.endswith("/jobs") and request.method == "POST":
        job_error = _job_error(errors)
        if job_error is not None:
            return job_error
    return error_response(422, "invalid_request", f"the request is invalid: {describe_errors(errors)}")


def _job_error(errors: list[Any]) -> JSONResponse | None:
    """A submitted job's errors in the job's words: an unknown kind, or its params (located from `params`)."""
    for error in errors:
        if error.get("type") == "union_tag_invalid":
            ctx = error.get("ctx", {})
            return error_response(
                400, "unknown_kind", f"unknown job kind {ctx.get('tag')!r}; this server runs {ctx.get('expected_tags')}"
            )
    located = [e for e in errors if len(e["loc"]) >= 3 and e["loc"][0] == "body" and e["loc"][2] == "params"]
    if located and len(located) == len(errors):
        params = [{**e, "loc": e["loc"][2:]} for e in located]
        return error_response(422, "invalid_params", f"invalid job params: {describe_errors(params)}")
    return None


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code == 404 and message == "Not Found":
        message = f"no such endpoint: {request.method} {request.url.path}"
    return error_response(exc.status_code, code, message, getattr(exc, "headers", None))


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_disk_full(exc):
        log.error("disk full on %s %s: %s", request.method, request.url.path, exc)
        full = disk_full(request.app.state.server.services.data_dir)
        return error_response(full.status, full.code, full.message)
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(500, "internal_error", f"internal server error ({type(exc).__name__}); see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
