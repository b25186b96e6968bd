"""``InputGate``: every request is judged against the deployment's ``InputLimits`` before any route runs.

One place for what every route would otherwise check alone, so no route can forget it and both
stores see only input they can keep:

- the request target: longer than ``max_url_bytes`` → 414; a path holding a control character
  (``%00``) → 404 (no resource has such a name); a query parameter holding one → 422;
- a header the gate judges or a route reads as one value (``Authorization``, ``X-Keepclear-Person``,
  ``X-Keepclear-Source``, ``Idempotency-Key``, ``Content-Type``, ``Content-Length``) given more than
  once → 400: the gate, the middlewares and the routes must read the same value;
- a header whose text is kept (``X-Keepclear-Person``, ``X-Keepclear-Source``): its bytes not UTF-8
  → 422 naming it; the person (or a socket's ``person``) too long (in characters) or holding control
  characters → 422 (a source's control characters are dropped, ``feed_sources.clean_source``);
- the caller, before a byte of a body is read (``authenticate``): no key, or one that is not valid → 401.
  Parsing megabytes of JSON holds the interpreter for seconds; only a caller with a key may cost that;
- the caller's party (any request with a valid key): past ``requests`` in flight at once (its keys
  together) → 429 with Retry-After, so that no party holds every worker thread (track batches,
  bounded by the ingest queue, and the live stream, bounded per key, aside);
- the bytes of bodies one key holds at once (``bodies``, ``max_body_bytes_in_flight_per_key``): a
  request that would take its key past the bound is refused before its body is read → 429;
- the bytes of bodies a party sends (``body_rate``, ``body_bytes_per_party_per_s``, bursts of
  ``body_byte_burst``; track batches and the admin aside): parsing and reading a body costs the
  interpreter in proportion to its bytes, whatever the route then refuses, so one party's bodies
  cannot take the time that delivers the others' alerts. Taken from the declared length before a
  byte is read (past it 429 with ``Retry-After``, the connection closed: the bytes still coming are
  not read), or from the bytes read when no length is declared;
- the body, read whole up to its route's limit (413 above, with or without a Content-Length):
  ``max_body_bytes`` (one object: an activity, a message), or the limit ``large_bodies`` names for
  the few routes that take many objects at once (track and activity batches, zone files). Parsing
  JSON holds the interpreter (about 60 ms a megabyte, the probe's tick waiting), so megabytes are
  taken only where they are needed. The body must be ``application/json`` (415 otherwise) and strict
  JSON (``domain.json_input``): a byte order mark or another encoding → 400; syntax, depth,
  NaN/Infinity, integers past 64 bits, NUL or lone surrogates in text → 422 naming the field. A large
  body is judged in its turn, between the probe's ticks (``LargeBodies``).

The value parsed here is the one the route reads (``JudgedBodyRoute``): a body is parsed once.
Routes in ``typed_paths`` parse their body straight from bytes with a fixed-shape pydantic model
(track ingest, for speed); the gate still applies every check but the JSON walk to them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Coroutine, Mapping
from contextlib import ExitStack
from typing import Any
from urllib.parse import parse_qsl

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepclear.api.connection_limits import BodyBytesPerKey, RequestsInFlight
from keepclear.api.deps import CALLER_SCOPE_KEY, NO_KEY, bearer_key, caller_of, header_text
from keepclear.api.large_bodies import LargeBodies
from keepclear.api.party_rate import PartyRate
from keepclear.api.problems import problem, problem_for
from keepclear.domain.identity import Principal
from keepclear.domain.json_input import decode_json_bytes, parse_json
from keepclear.domain.limits import InputLimits
from keepclear.errors import AuthenticationError, KeepclearError, OverloadedError, ValidationError

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
#: Control characters (Unicode category Cc: C0, DEL and C1) a person's name may not hold.
_PERSON_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: Where the gate leaves a body's parsed value for the route (``JudgedBodyRoute``).
JSON_SCOPE_KEY = "keepclear.json"
#: Who holds a request slot when the caller is an admin (no party id holds a ``*``).
_ADMIN_HOLDER = "*admin"
#: Seconds a client refused for its requests in flight is told to wait.
_IN_FLIGHT_RETRY_AFTER_S = 1.0
#: Headers a request may give once (none is a list, RFC 9110 §5.3): with two, the gate would judge
#: one value and a route read the other.
SINGLE_HEADERS = (
    b"authorization",
    b"x-keepclear-person",
    b"x-keepclear-source",
    b"idempotency-key",
    b"content-type",
    b"content-length",
)
#: Headers whose text is kept and shown to others (who acts; the feed a batch names): read as UTF-8
#: (``deps.header_value``), so bytes that are not UTF-8 are refused naming the header (422).
TEXT_HEADERS = {b"x-keepclear-person": "X-Keepclear-Person", b"x-keepclear-source": "X-Keepclear-Source"}


class _TooLarge(Exception):
    pass


def person_problem(person: str, limits: InputLimits, where: str = "X-Keepclear-Person") -> str | None:
    """Why ``person`` (who acts, for receipts) cannot be kept, or None."""
    if len(person) > limits.max_person_chars:
        return f"{where}: {len(person)} characters, at most {limits.max_person_chars}"
    if _PERSON_CONTROL.search(person):
        return f"{where}: holds a control character"
    return None


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class InputGate:
    """ASGI middleware applying ``limits`` to every HTTP request and WebSocket handshake.

    ``authenticate`` (a key to its caller, or ``AuthenticationError``; it may read the store) judges
    the key of a request with a body before the body is read; None leaves that to the routes.
    ``large_bodies`` maps a path to the name of the ``InputLimits`` field bounding its bodies; every
    other path's bodies are bounded by ``max_body_bytes``. ``queue`` judges the large ones in their
    turn, between the probe's ticks (``LargeBodies``). ``requests`` bounds a party's requests in flight
    (None: unbounded; needs ``authenticate``), but on ``long_lived`` paths (each bounded on its own)
    and ``typed_paths``. ``bodies`` bounds the body bytes one key holds at once (``BodyBytesPerKey``;
    None: no bound, where no key is judged). ``body_rate`` bounds the body bytes a party sends a
    second (``PartyRate`` of ``REQUEST_BODY_BYTES``; None: no bound), taken before a body of declared
    length is read."""

    def __init__(
        self,
        app: ASGIApp,
        limits: InputLimits,
        typed_paths: Collection[str] = (),
        authenticate: Callable[[str], Principal] | None = None,
        large_bodies: Mapping[str, str] | None = None,
        queue: LargeBodies | None = None,
        bodies: BodyBytesPerKey | None = None,
        requests: RequestsInFlight | None = None,
        long_lived: Collection[str] = (),
        body_rate: PartyRate | None = None,
    ) -> None:
        self.app = app
        self.body_rate = body_rate
        self.requests = requests
        self._unbounded = frozenset(long_lived) | frozenset(typed_paths)
        self.limits = limits
        self.typed_paths = frozenset(typed_paths)
        self.authenticate = authenticate
        self.queue = queue or LargeBodies(None)
        self.bodies = bodies
        self._body_limits = {path: (int(getattr(limits, name)), name) for path, name in (large_bodies or {}).items()}

    def body_limit(self, path: str) -> tuple[int, str]:
        """The largest body ``path`` takes, in bytes, and the setting that says so."""
        return self._body_limits.get(path, (self.limits.max_body_bytes, "max_body_bytes"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers, repeated = _headers(scope)
        refusal = self._target_and_headers(scope, headers, repeated)
        with_body = scope["type"] == "http" and scope.get("method") in _BODY_METHODS
        holder: str | None = None
        if refusal is None and with_body:
            refusal, principal = await self._caller(scope, headers)
            if refusal is None:
                holder, refusal = self._claim_request(principal, path)
        elif refusal is None and scope["type"] == "http" and self._bounded(path) and b"authorization" in headers:
            # A read: a key that is not valid is left to the route (a public one takes none).
            _, principal = await self._caller(scope, headers)
            holder, refusal = self._claim_request(principal, path)
        claimed: tuple[str, int] | None = None
        try:
            if refusal is None and with_body:
                claimed, refusal = self._claim_bytes(scope, headers, path)
            if refusal is None and with_body:
                refusal = await self._with_body(scope, headers, receive, send)
            elif refusal is None:
                await self.app(scope, receive, send)
            if refusal is not None and scope["type"] == "websocket":
                reason = "refused: " + bytes(refusal.body).decode()[:100]
                await send({"type": "websocket.close", "code": 1008, "reason": reason})
            elif refusal is not None:
                await refusal(scope, receive, send)
        finally:
            if claimed is not None and self.bodies is not None:
                self.bodies.release(*claimed)
            if holder is not None and self.requests is not None:
                self.requests.release(holder)

    def _bounded(self, path: str) -> bool:
        """Whether the requests to ``path`` count in their party's requests in flight."""
        return self.requests is not None and self.authenticate is not None and path not in self._unbounded

    def _claim_request(self, principal: Principal | None, path: str) -> tuple[str | None, JSONResponse | None]:
        """A request slot of the caller's party: its holder (released once the answer is sent), or the
        429 when the party has none left; (None, None) where requests are not bounded (no caller
        known, a path bounded otherwise)."""
        if principal is None or self.requests is None or not self._bounded(path):
            return None, None
        holder = _holder(principal)
        if not self.requests.claim(holder):
            return None, problem_for(OverloadedError(self.requests.refusal(), _IN_FLIGHT_RETRY_AFTER_S), path)
        return holder, None

    def _claim_bytes(
        self, scope: Scope, headers: Mapping[bytes, bytes], path: str
    ) -> tuple[tuple[str, int] | None, JSONResponse | None]:
        """The caller's key claims the body's bytes (its Content-Length; without one, its route's
        limit) for as long as the request runs: (what it claimed, or None; a 429 when it may not)."""
        caller = scope.get(CALLER_SCOPE_KEY)
        if self.bodies is None or caller is None:
            return None, None
        limit_bytes, _ = self.body_limit(path)
        declared = headers.get(b"content-length")
        size = int(declared) if declared is not None and declared.isdigit() else limit_bytes
        if size > limit_bytes:
            return None, None  # answered 413 before a byte is read
        key_id: str = caller[1].key_id
        if not self.bodies.claim(key_id, size):
            return None, problem_for(OverloadedError(self.bodies.refusal(), retry_after_s=1.0), path)
        return (key_id, size), None

    async def _with_body(
        self, scope: Scope, headers: Mapping[bytes, bytes], receive: Receive, send: Send
    ) -> JSONResponse | None:
        """Read and judge the body, then run the route (None), or the refusal. A large body (over the
        queue's threshold) takes a place in ``LargeBodies`` (before it is read where its length is
        declared: refused there, nothing is read) and is judged and routed in its sender's turn."""
        path = scope.get("path", "")
        declared = headers.get(b"content-length")
        size = int(declared) if declared is not None and declared.isdigit() else 0
        within = size <= self.body_limit(path)[0]  # past the limit: 413, unread
        large = self.queue.threshold_bytes < size and within
        with ExitStack() as place:
            taken: tuple[str, int] | None = None
            try:
                if size and within:
                    taken = self._take_body_bytes(scope, path, size)
                if large:
                    place.enter_context(self.queue.place(_sender(scope)))
            except OverloadedError as exc:
                if taken is not None and self.body_rate is not None:  # the queue was full: nothing read
                    self.body_rate.give_back(*taken)
                return _unread(problem_for(exc, path))
            try:
                body, refusal = await self._read(headers, receive, path)
                if refusal is None and not size and body:  # sent without a length
                    self._take_body_bytes(scope, path, len(body))
                if refusal is None and len(body) > self.queue.threshold_bytes and not large:
                    place.enter_context(self.queue.place(_sender(scope)))
            except OverloadedError as exc:
                return problem_for(exc, path)
            if refusal is not None:
                return refusal
            if len(body) > self.queue.threshold_bytes:
                return await self._in_turn(scope, headers, body, receive, send)
            if (refusal := self._body(scope, headers, body)) is None:
                await self.app(scope, replay_body(body, receive), send)
            return refusal

    def _take_body_bytes(self, scope: Scope, path: str, size_bytes: int) -> tuple[str, int] | None:
        """The caller's party takes ``size_bytes`` of its body bytes (``body_rate``; a body larger than
        the burst takes it whole): (the party, the tokens taken), or None where none are (the admin's
        keys, callers without a party, ``typed_paths``: track batches, bounded by the ingest queue);
        ``OverloadedError`` (429) when it has too few."""
        caller = scope.get(CALLER_SCOPE_KEY)
        party_id = None if caller is None else caller[1].party_id
        if self.body_rate is None or party_id is None or path in self.typed_paths:
            return None
        count, refusal = self.body_rate.take_capped(party_id, size_bytes)
        if refusal is not None:
            raise refusal
        return party_id, count

    async def _read(
        self, headers: Mapping[bytes, bytes], receive: Receive, path: str
    ) -> tuple[bytes, JSONResponse | None]:
        """The body read whole, or the 413 past its route's limit."""
        limit_bytes, setting = self.body_limit(path)
        try:
            return await self._read_body(headers, receive, limit_bytes), None
        except _TooLarge:
            detail = f"request bodies of {path} are limited to {limit_bytes} bytes (setting {setting})"
            return b"", _unread(problem(413, "Request too large", detail, path))

    async def _in_turn(
        self, scope: Scope, headers: Mapping[bytes, bytes], body: bytes, receive: Receive, send: Send
    ) -> JSONResponse | None:
        """A large body in its sender's turn (``LargeBodies``, its place taken): judged on a worker
        thread, then its route run, the turn ending as the answer starts; or the body's refusal."""
        async with self.queue.turn(len(body), _sender(scope)) as end:
            refusal = await run_in_threadpool(self._body, scope, headers, body)
            if refusal is not None:
                return refusal

            async def send_ending_turn(message: Message) -> None:
                if message["type"] == "http.response.start":
                    end()
                await send(message)

            await self.app(scope, replay_body(body, receive), send_ending_turn)
        return None

    def _target_and_headers(
        self, scope: Scope, headers: Mapping[bytes, bytes], repeated: Collection[bytes]
    ) -> JSONResponse | None:
        if repeated:
            names = ", ".join(sorted(name.decode("latin-1") for name in repeated))
            return problem(400, "Bad request", f"header {names}: give it once", scope.get("path", ""))
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
        for header, shown in TEXT_HEADERS.items():
            raw = headers.get(header)
            text = None if raw is None else header_text(raw)
            if raw is not None and text is None:
                problems.append(f"{shown}: not UTF-8; send the text as its UTF-8 bytes")
            elif text is not None and header == b"x-keepclear-person" and (p := person_problem(text, self.limits)):
                problems.append(p)
        if scope["type"] == "websocket":
            for name, value in parse_qsl(query.decode("utf-8", "replace")):
                if name == "person" and (p := person_problem(value, self.limits, "person")):
                    problems.append(p)
        return problem_for(ValidationError(problems), path) if problems else None

    async def _caller(
        self, scope: Scope, headers: Mapping[bytes, bytes]
    ) -> tuple[JSONResponse | None, Principal | None]:
        """The request's caller, or a 401 when its key is missing or not valid (every route taking a
        body needs one); (None, None) without ``authenticate``."""
        if self.authenticate is None:
            return None, None
        path = scope.get("path", "")
        key = bearer_key(headers.get(b"authorization", b"").decode("latin-1"))
        try:
            if key is None:
                raise AuthenticationError(NO_KEY)
            principal = await run_in_threadpool(caller_of, scope, key, self.authenticate)
        except KeepclearError as exc:
            return problem_for(exc, path), None
        return None, principal

    async def _read_body(self, headers: Mapping[bytes, bytes], receive: Receive, limit_bytes: int) -> bytes:
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit_bytes:
            raise _TooLarge
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit_bytes:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _body(self, scope: Scope, headers: Mapping[bytes, bytes], body: bytes) -> JSONResponse | None:
        if not body:
            return None
        path = scope.get("path", "")
        content_type = headers.get(b"content-type", b"").decode("latin-1")
        if not _is_json(content_type):
            shown = content_type[:80] or "none"
            return problem(415, "Unsupported media type", f"Content-Type: send application/json (got {shown})", path)
        try:
            if path in self.typed_paths:
                decode_json_bytes(body)
            else:
                scope[JSON_SCOPE_KEY] = parse_json(body, self.limits)
        except KeepclearError as exc:
            return problem_for(exc, path)
        return None


def _unread(refusal: JSONResponse) -> JSONResponse:
    """``refusal`` of a body left unread (all or in part): the connection closes once it is sent, so
    the sender's bytes are not read and dropped for nothing, a megabyte at a time."""
    refusal.headers["connection"] = "close"
    return refusal


def _headers(scope: Scope) -> tuple[dict[bytes, bytes], list[bytes]]:
    """The request's headers by (lower-case) name, each its first value as the routes read it
    (Starlette's ``Headers.get``), and the ``SINGLE_HEADERS`` given more than once."""
    headers: dict[bytes, bytes] = {}
    repeated: list[bytes] = []
    for name, value in scope.get("headers", ()):
        if name not in headers:
            headers[name] = value
        elif name in SINGLE_HEADERS and name not in repeated:
            repeated.append(name)
    return headers, repeated


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


class _JudgedRequest(Request):
    """A request whose JSON body is the value the gate parsed, when it parsed one."""

    async def json(self) -> Any:
        if JSON_SCOPE_KEY in self.scope:
            return self.scope[JSON_SCOPE_KEY]
        return await super().json()


class JudgedBodyRoute(APIRoute):
    """A route that reads the body the gate parsed rather than parsing it again (every API router
    uses it: parsing megabytes holds the interpreter; once is enough)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def judged(request: Request) -> Response:
            return await handler(_JudgedRequest(request.scope, request.receive))

        return judged


def _holder(principal: Principal) -> str:
    """Whom a request counts for, in its party's requests in flight and the large bodies' turns: its
    key's party (the admin keys as one)."""
    return principal.party_id or _ADMIN_HOLDER


def _sender(scope: Scope) -> str:
    """The holder (``_holder``) of the request whose key was judged, "" when none was."""
    caller = scope.get(CALLER_SCOPE_KEY)
    return "" if caller is None else _holder(caller[1])
