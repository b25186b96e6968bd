"""Errors become RFC 9457 problem details here, and only here."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepclear.domain.json_input import JsonEncodingError
from keepclear.errors import (
    AuthenticationError,
    ConflictError,
    ForbiddenError,
    KeepclearError,
    NotFoundError,
    OverloadedError,
    ProblemCode,
    UnavailableError,
    ValidationError,
)

PROBLEM_TYPE = "about:blank"
_log = logging.getLogger("keepclear.api")

#: Status of each domain error; the first matching class wins.
STATUS_BY_ERROR: list[tuple[type[KeepclearError], int, str]] = [
    (JsonEncodingError, 400, "Bad request"),
    (ValidationError, 422, "Invalid input"),
    (AuthenticationError, 401, "Not authenticated"),
    (ForbiddenError, 403, "Forbidden"),
    (NotFoundError, 404, "Not found"),
    (ConflictError, 409, "Conflict"),
    (OverloadedError, 429, "Too many requests"),
    (UnavailableError, 503, "Service unavailable"),
    (KeepclearError, 400, "Bad request"),
]


def problem(status: int, title: str, detail: str, instance: str, **extra: Any) -> JSONResponse:
    """A problem+json response. A 422 always carries ``codes``, one for each of its ``errors``
    (``invalid`` where the caller named none), so clients can match every refusal on codes."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
        "instance": instance,
    }
    body.update(extra)
    if status == 422:
        body.setdefault("errors", [detail])
        body.setdefault("codes", [ProblemCode.INVALID] * len(body["errors"]))
    headers = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="keepclear"'
    return JSONResponse(body, status_code=status, media_type="application/problem+json", headers=headers)


def problem_for(exc: KeepclearError, instance: str) -> JSONResponse:
    """The problem response of a domain error (its status from ``STATUS_BY_ERROR``)."""
    status, title = next((s, t) for cls, s, t in STATUS_BY_ERROR if isinstance(exc, cls))
    extra: dict[str, Any] = {}
    if isinstance(exc, ValidationError):
        extra["errors"] = exc.problems
        extra["codes"] = exc.codes
    if isinstance(exc, ConflictError) and getattr(exc, "current", None) is not None:
        extra["current"] = exc.current
    response = problem(status, title, str(exc), instance, **extra)
    if isinstance(exc, (OverloadedError, UnavailableError)):
        response.headers["Retry-After"] = str(max(1, round(exc.retry_after_s)))
    return response


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method some route of ``app`` answers at ``path`` (for a 405's ``Allow``), included
    routers searched under their prefixes."""
    methods: set[str] = set()

    def walk(routes: list[Any], prefix: str) -> None:
        for route in routes:
            inner = getattr(route, "original_router", None)
            if inner is not None:
                walk(inner.routes, prefix + route.include_context.prefix)
            elif (
                getattr(route, "methods", None)
                and path.startswith(prefix)
                and route.path_regex.match(path[len(prefix) :])
            ):
                methods.update(route.methods)

    walk(app.router.routes, "")
    return sorted(methods)


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "body"


def install_problem_handlers(app: FastAPI) -> None:
    """Map every error the service can meet to a problem response; never a stack trace."""

    @app.exception_handler(KeepclearError)
    async def _domain(request: Request, exc: KeepclearError) -> JSONResponse:
        return problem_for(exc, request.url.path)

    @app.exception_handler(RequestValidationError)
    async def _request(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [f"{_field(tuple(e.get('loc', ())))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
        codes = [ProblemCode.INVALID] * len(errors)
        return problem(422, "Invalid input", "; ".join(errors), request.url.path, errors=errors, codes=codes)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        response = problem(exc.status_code, HTTPStatus(exc.status_code).phrase, str(exc.detail), request.url.path)
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        if exc.status_code == 405:
            response.headers["Allow"] = ", ".join(allowed_methods(app, request.url.path))
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unexpected error on %s", request.url.path)
        return problem(
            500, "Internal error", "the service failed on this request; it has been logged", request.url.path
        )


class DomainErrors:
    """ASGI middleware, outside keepclear's others: a domain error one of them raises (the request
    keys' look-up in the store during an outage) is answered here as a route's would be (a 503 with
    Retry-After). Past it the error would reach Starlette's last handler, which answers and raises
    again, and uvicorn then closes the connection with the request unread: the client would see a
    reset, not the answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except KeepclearError as exc:
            if started:
                raise
            await problem_for(exc, scope.get("path", ""))(scope, receive, send)
