"""``InputGate``: every request is judged against the deployment's ``InputLimits`` before any route runs.

One place for what every route would otherwise check alone, so no route can forget it and both
stores see only input they can keep:

- the request target: longer than ``max_url_bytes`` → 414; a path holding a control character
  (``%00``) → 404 (no resource has such a name); a query parameter holding one → 422;
- the ``X-Keepclear-Person`` header (or a socket's ``person``): too long or control characters → 422;
- the caller, before a byte of a body is read (``authenticate``): no key, or one that is not valid → 401.
  Parsing megabytes of JSON holds the interpreter for seconds; only a caller with a key may cost that;
- the body, read whole up to ``max_body_bytes`` (413 above, with or without a Content-Length),
  must be ``application/json`` (415 otherwise) and strict JSON (``domain.json_input``): a byte order
  mark or another encoding → 400; syntax, depth, NaN/Infinity, integers past 64 bits, NUL or lone
  surrogates in text → 422 naming the field. The route then reads the same bytes.

Routes in ``typed_paths`` parse their body straight from bytes with a fixed-shape pydantic model
(track ingest, for speed); the gate still applies every check but the JSON walk to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection
from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepclear.api.deps import NO_KEY, bearer_key, caller_of
from keepclear.api.problems import problem, problem_for
from keepclear.domain.identity import Principal
from keepclear.domain.json_input import decode_json_bytes, parse_json
from keepclear.domain.limits import InputLimits
from keepclear.errors import AuthenticationError, KeepclearError, ValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class _TooLarge(Exception):
    pass


def person_problem(person: str, limits: InputLimits, where: str = "X-Keepclear-Person") -> str | None:
    """Why ``person`` (who acts, for receipts) cannot be kept, or None."""
    if len(person) > limits.max_person_chars:
        return f"{where}: {len(person)} characters, at most {limits.max_person_chars}"
    if _CONTROL.search(person):
        return f"{where}: holds a control character"
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class InputGate:
    """ASGI middleware applying ``limits`` to every HTTP request and WebSocket handshake.

    ``authenticate`` (a key to its caller, or ``AuthenticationError``; it may read the store) judges
    the key of a request with a body before the body is read; None leaves that to the routes."""

    def __init__(
        self,
        app: ASGIApp,
        limits: InputLimits,
        typed_paths: Collection[str] = (),
        authenticate: Callable[[str], Principal] | None = None,
    ) -> None:
        self.app = app
        self.limits = limits
        self.typed_paths = frozenset(typed_paths)
        self.authenticate = authenticate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        refusal = self._target_and_headers(scope)
        with_body = scope["type"] == "http" and scope.get("method") in _BODY_METHODS
        if refusal is None and with_body:
            refusal = await self._caller(scope)
        if refusal is None and with_body:
            try:
                body = await self._read_body(scope, receive)
            except _TooLarge:
                refusal = problem(
                    413, "Request too large", f"request bodies are limited to {self.limits.max_body_bytes} bytes", path
                )
            else:
                refusal = self._body(scope, body)
                if refusal is None:
                    receive = replay_body(body, receive)
        if refusal is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send(
                {"type": "websocket.close", "code": 1008, "reason": "refused: " + bytes(refusal.body).decode()[:100]}
            )
        else:
            await refusal(scope, receive, send)

    def _target_and_headers(self, scope: Scope) -> JSONResponse | None:
        raw_path: bytes = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
        query: bytes = scope.get("query_string", b"")
        if len(raw_path) + len(query) > self.limits.max_url_bytes:
            return problem(
                414, "URI too long", f"the request target is limited to {self.limits.max_url_bytes} bytes", ""
            )
        if _CONTROL.search(path := scope.get("path", "")):
            return problem(404, "Not found", "no resource has a name holding a control character (such as %00)", path)
        problems = [
            f"query parameter {name[:64]!r}: holds a control character"
            for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True)
            if _CONTROL.search(name) or _CONTROL.search(value)
        ]
        headers = dict(scope.get("headers", ()))
        person = headers.get(b"x-keepclear-person")
        if person is not None and (p := person_problem(person.decode("latin-1"), self.limits)):
            problems.append(p)
        if scope["type"] == "websocket":
            for name, value in parse_qsl(query.decode("utf-8", "replace")):
                if name == "person" and (p := person_problem(value, self.limits, "person")):
                    problems.append(p)
        return problem_for(ValidationError(problems), path) if problems else None

    async def _caller(self, scope: Scope) -> JSONResponse | None:
        """A 401 when the request's key is missing or not valid (every route taking a body needs one)."""
        if self.authenticate is None:
            return None
        path = scope.get("path", "")
        key = bearer_key(dict(scope.get("headers", ())).get(b"authorization", b"").decode("latin-1"))
        try:
            if key is None:
                raise AuthenticationError(NO_KEY)
            await run_in_threadpool(caller_of, scope, key, self.authenticate)
        except KeepclearError as exc:
            return problem_for(exc, path)
        return None

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = dict(scope.get("headers", ())).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limits.max_body_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.limits.max_body_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _body(self, scope: Scope, body: bytes) -> JSONResponse | None:
        if not body:
            return None
        path = scope.get("path", "")
        content_type = dict(scope.get("headers", ())).get(b"content-type", b"").decode("latin-1")
        if not _is_json(content_type):
            shown = content_type[:80] or "none"
            return problem(415, "Unsupported media type", f"Content-Type: send application/json (got {shown})", path)
        try:
            if path in self.typed_paths:
                decode_json_bytes(body)
            else:
                parse_json(body, self.limits)
        except KeepclearError as exc:
            return problem_for(exc, path)
        return None


def replay_body(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the route the body already read, then the connection's own messages."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
