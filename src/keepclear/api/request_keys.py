"""``RequestKeys``: ``Idempotency-Key`` on every POST, so a retry can be told from a clash.

A POST under ``/v1`` (track batches aside: a report is its own key) may carry ``Idempotency-Key``
(8–128 of letters, digits, ``_.:-``). Keys belong to the caller's party and role (the admin keys
share the deployment's scope): a party never sees, nor collides with, another party's keys, nor a
key of one role (a feed, an observer) another role's (a liaison's) stored answer.

- The first request with a key runs as usual; the key is stored in the same transaction as what
  the request writes (``store.request_keys``), and its answer (status, media type, body) is kept
  before it is sent. A refused request (4xx: nothing of it is stored) keeps no key.
- A retry with the same key and the same request (method, path and JSON body, compared after
  parsing, so spacing and key order do not matter) gets the original answer, byte for byte, with
  ``Idempotent-Replayed: true``; nothing runs again.
- The same key with another request: 409 naming the key and what it was used for (as the hotline
  always answered a reused message key).
- The same key while the first request is still running, in this process or another API process
  sharing the store: it waits for its answer (up to ``wait_s``), then 409 "in progress".
- A request stored by a server that was killed before it could keep the answer (the moments between
  its commit and the end of its route) is answered 409 naming the key and the time it was carried out
  (once the key is ``wait_s`` old: until then another process may still be answering it): what it
  created is stored once, and its route's GET shows it.

Keys are forgotten ``retention_s`` after they were first used (docs/settings.md).

Hotline messages also take the key in the body (``idempotency_key``, as the live socket does): the
body's key is the request's key when the header is absent; both given and different: 422.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import secrets
import time
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from keepclear.api.deps import bearer_key, caller_of
from keepclear.api.input_gate import replay_body
from keepclear.api.problems import problem
from keepclear.domain.events import Clock
from keepclear.domain.hotline import IDEMPOTENCY_KEY_PATTERN
from keepclear.domain.timefmt import format_utc
from keepclear.errors import KeepclearError
from keepclear.services.registry.keys import KeyService
from keepclear.store import Database
from keepclear.store import request_keys as store

HEADER = b"idempotency-key"
_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)
_HOTLINE_POST = re.compile(r"^/v1/hotline/threads/[^/]+/messages$")
#: The scope of admin keys (no party id can hold a ``*``).
ADMIN_SCOPE = "*admin"


def fingerprint(method: str, path: str, body: bytes, key_field: str | None = None) -> str:
    """What makes two requests the same: method, path and the body's JSON value (or its bytes);
    ``key_field``, the body's alias of the key, is left out (a key sent either way is the same request)."""
    try:
        value = json.loads(body)
        if key_field is not None and isinstance(value, dict):
            value.pop(key_field, None)
        canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode("utf-8", "surrogateescape"), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


class RequestKeys:
    """ASGI middleware giving POST routes idempotency keys (module docstring)."""

    def __init__(
        self,
        app: ASGIApp,
        db: Database,
        keys: KeyService,
        clock: Clock,
        wait_s: float = 10.0,
        skip_paths: frozenset[str] = frozenset({"/v1/tracks"}),
    ) -> None:
        self.app = app
        self.db = db
        self.keys = keys
        self.clock = clock
        self.wait_s = wait_s
        self.skip_paths = skip_paths
        #: Marks the keys this process claims: a key of another boot without an answer was cut off.
        self.boot = secrets.token_hex(8)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope.get("method") != "POST"
            or not path.startswith("/v1/")
            or path in self.skip_paths
        ):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", ()))
        header = headers.get(HEADER)
        hotline = _HOTLINE_POST.match(path) is not None
        if header is None and not hotline:
            await self.app(scope, receive, send)
            return
        body = await _read(receive)
        key, refusal = self._key(header, body if hotline else None, path)
        if refusal is not None:
            await refusal(scope, replay_body(body, receive), send)
            return
        party_scope = await self._scope(scope, headers) if key is not None else None
        if key is None or party_scope is None:  # no key, or a caller the route will refuse anyway
            await self.app(scope, replay_body(body, receive), send)
            return
        claim = store.Claim(
            scope=party_scope,
            key=key,
            fingerprint=fingerprint("POST", path, body, "idempotency_key" if hotline else None),
            method="POST",
            path=path,
            created_s=self.clock.now_s(),
            boot=self.boot,
        )
        await self._run(claim, scope, body, receive, send)

    def _key(self, header: bytes | None, body: bytes | None, path: str) -> tuple[str | None, Any]:
        """The request's key (header, or a hotline body's ``idempotency_key``), or a refusal."""
        from_header = None if header is None else header.decode("latin-1")
        if from_header is not None and not _KEY_RE.match(from_header):
            return None, _invalid(
                f"Idempotency-Key: {from_header[:140]!r} is not a valid idempotency key"
                " (8-128 characters: letters, digits, _ . : -)",
                path,
            )
        from_body = None
        if body is not None:
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError):
                parsed = None
            value = parsed.get("idempotency_key") if isinstance(parsed, dict) else None
            from_body = value if isinstance(value, str) and _KEY_RE.match(value) else None
        if from_header is not None and from_body is not None and from_header != from_body:
            return None, _invalid(
                f"Idempotency-Key: {from_header!r} differs from the body's idempotency_key {from_body!r};"
                " send one key (the body's field is an alias of the header)",
                path,
            )
        return from_header or from_body, None

    async def _scope(self, scope: Scope, headers: dict[bytes, bytes]) -> str | None:
        """The caller's key scope: its party and role (``a/liaison``), or the deployment's for admin
        keys; None if unknown. The role too: a stored answer is replayed before the route judges the
        caller, so a party's feed or observer key sending its liaison's key and body was answered with
        what only a liaison may do and read (the activity's view, its conflicts), not 403."""
        key = bearer_key(headers.get(b"authorization", b"").decode("latin-1"))
        if key is None:
            return None
        try:
            principal = await run_in_threadpool(caller_of, scope, key, self.keys.authenticate)
        except KeepclearError:
            return None
        return ADMIN_SCOPE if principal.party_id is None else f"{principal.party_id}/{principal.role.value}"

    async def _run(self, claim: store.Claim, scope: Scope, body: bytes, receive: Receive, send: Send) -> None:
        deadline_s = time.monotonic() + self.wait_s
        while True:
            stored = await run_in_threadpool(self._find, claim)
            if stored is not None:
                answer = self._answer_for(claim, stored, scope, deadline_s)
                if answer is not None:
                    await answer(scope, receive, send)
                    return
                await asyncio.sleep(0.05)  # the first request with this key is still running
                continue
            captured = _Captured()
            try:
                with store.claiming(claim):
                    await self.app(scope, replay_body(body, receive), captured.send)
            except store.RequestKeyTaken:
                continue  # a concurrent request with the key committed first: answer as it was answered
            except Exception:
                if claim.held:  # stored, then failed: its retries get the same failure, never a second run
                    failed = problem(
                        500, "Internal error", "the service failed on this request; it has been logged", ""
                    )
                    await run_in_threadpool(self._save, claim, _Captured.of(failed.status_code, bytes(failed.body)))
                raise
            if claim.held and captured.status is not None:
                if 400 <= captured.status < 500:  # refused: nothing of it is stored, so the key is free again
                    await run_in_threadpool(self._forget, claim)
                else:
                    await run_in_threadpool(self._save, claim, captured)
            await captured.forward(send)
            return

    def _answer_for(self, claim: store.Claim, stored: store.StoredKey, scope: Scope, deadline_s: float) -> Any:
        """The answer to a request whose key is stored: a replay, a refusal, or None (wait)."""
        path = scope.get("path", "")
        if stored.legacy and not claim.scope.endswith(f"/{LEGACY_REPLAYED_ROLE}"):
            # Kept by a build before keys were the role's too: maybe another role's answer, never replayed.
            return _conflict(
                f"Idempotency-Key: {claim.key!r} was used by this party before keepclear was upgraded, when keys"
                " were the party's and not the role's; its answer is not replayed to this key's role: read what"
                " it created, or send a new request with a new key",
                path,
            )
        if stored.fingerprint != claim.fingerprint:
            return _conflict(
                f"Idempotency-Key: {claim.key!r} was already used for another request ({stored.method}"
                f" {stored.path}, other content); use a new key for a new request",
                path,
            )
        if stored.status is not None and stored.answer is not None:
            return _Stored(stored)
        # Not answered yet: the first request may still be running, here or, with several API
        # processes on one store, in the other process that claimed the key moments ago: wait for its
        # answer. A key of another process claimed longer than ``wait_s`` ago was cut off (that
        # process stopped before answering: killed, or its machine lost).
        running = stored.boot == self.boot or self.clock.now_s() - stored.created_s < self.wait_s
        if running and time.monotonic() < deadline_s:
            return None
        if running:
            return problem(
                409,
                "Conflict",
                f"Idempotency-Key: the request with key {claim.key!r} is still being carried out; retry later",
                path,
            )
        return problem(
            409,
            "Conflict",
            f"Idempotency-Key: the request with key {claim.key!r} was carried out and stored once (first received"
            f" {format_utc(stored.created_s)}) but the server stopped before answering it; read what it created",
            path,
            idempotency_key=claim.key,
        )

    def _find(self, claim: store.Claim) -> store.StoredKey | None:
        with self.db.read() as conn:
            party, _, role = claim.scope.partition("/")
            return store.find(conn, claim.scope, claim.key, legacy_scope=party if role else None)

    def _forget(self, claim: store.Claim) -> None:
        with self.db.write() as conn:
            store.forget(conn, claim)

    def _save(self, claim: store.Claim, captured: _Captured) -> None:
        with self.db.write() as conn:
            store.save_answer(conn, claim, captured.status or 500, captured.media_type, captured.body)


#: The role whose callers are replayed a key kept under the party's scope alone (a build before keys
#: were the role's too, within ``request_key_retention_s`` of the upgrade): the liaison may read
#: whatever its party's other roles write; a feed or observer key is answered 409 instead.
LEGACY_REPLAYED_ROLE = "liaison"


class _Captured:
    """A route's answer held back until its key has kept it."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.chunks: list[bytes] = []

    @classmethod
    def of(cls, status: int, body: bytes, media_type: str = "application/problem+json") -> _Captured:
        captured = cls()
        captured.status = status
        captured.headers = [(b"content-type", media_type.encode())]
        captured.chunks = [body]
        return captured

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = list(message.get("headers", ()))
        elif message["type"] == "http.response.body":
            self.chunks.append(message.get("body", b""))

    @property
    def body(self) -> bytes:
        return b"".join(self.chunks)

    @property
    def media_type(self) -> str:
        return next((v.decode("latin-1") for k, v in self.headers if k.lower() == b"content-type"), "")

    async def forward(self, send: Send) -> None:
        if self.status is None:
            return
        await send({"type": "http.response.start", "status": self.status, "headers": self.headers})
        await send({"type": "http.response.body", "body": self.body})


class _Stored:
    """The kept answer of a key, sent again."""

    def __init__(self, stored: store.StoredKey) -> None:
        self.stored = stored

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = self.stored.answer or b""
        headers = [
            (b"content-type", (self.stored.media_type or "application/json").encode("latin-1")),
            (b"content-length", str(len(body)).encode()),
            (b"idempotent-replayed", b"true"),
        ]
        await send({"type": "http.response.start", "status": self.stored.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def _invalid(detail: str, path: str) -> Any:
    return problem(422, "Invalid input", detail, path, errors=[detail])


def _conflict(detail: str, path: str) -> Any:
    return problem(409, "Conflict", detail, path, errors=[detail])


async def _read(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)
