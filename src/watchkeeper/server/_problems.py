"""RFC 9457 problem documents for every error the HTTP API answers."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import InputError, Overloaded, WatchkeeperError
from ..records import RecordError

log = logging.getLogger("watchkeeper.server")

PROBLEM_BASE = "https://watchkeeper.dev/problems/"
PROBLEM_TYPE = "application/problem+json"


def problem(
    status: int, title: str, detail: str, *, slug: str, instance: str | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    headers = {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="watchkeeper"'

    return JSONResponse(body, status_code=status, media_type=PROBLEM_TYPE, headers=headers)


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


def install(app: FastAPI) -> None:
    """Answer every error as a problem document; never leak payload text or internals."""

    @app.exception_handler(WatchkeeperError)
    async def _wk(request: Request, exc: WatchkeeperError) -> JSONResponse:
        if isinstance(exc, Overloaded):
            return problem(
                exc.status,
                exc.title,
                str(exc),
                slug=exc.type_slug,
                instance=request.url.path,
                retry_after=exc.retry_after_s,
            )
        field = exc.field if isinstance(exc, InputError) else None
        if exc.status >= 500:
            log.error("request failed: %s", type(exc).__name__)
        return problem(exc.status, exc.title, str(exc), slug=exc.type_slug, instance=request.url.path, field=field)

    @app.exception_handler(RecordError)
    async def _rec(request: Request, exc: RecordError) -> JSONResponse:
        return problem(
            400, "Invalid record", str(exc), slug="invalid-record", instance=request.url.path, field=exc.field
        )

    @app.exception_handler(RequestValidationError)
    async def _val(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        first = errors[0] if errors else {"loc": (), "msg": "invalid request"}
        path = _field_path(tuple(first.get("loc", ())))
        # pydantic's "input" echoes the value sent: leave it out
        details = [{"field": _field_path(tuple(e.get("loc", ()))), "rule": e.get("msg", "")} for e in errors[:20]]
        return problem(
            422,
            "Invalid request",
            f"{path}: {first.get('msg', 'invalid')}",
            slug="invalid-request",
            instance=request.url.path,
            field=path,
            errors=details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: "Not found", 405: "Method not allowed", 401: "Unauthorized", 403: "Forbidden"}
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such route: {request.method} {request.url.path}"
        return problem(
            exc.status_code,
            titles.get(exc.status_code, "HTTP error"),
            detail,
            slug=f"http-{exc.status_code}",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _any(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path)
        return problem(
            500,
            "Internal error",
            "the server failed to handle this request; it has been logged",
            slug="internal",
            instance=request.url.path,
        )
