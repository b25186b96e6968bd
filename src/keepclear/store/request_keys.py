"""Idempotency keys of requests: a retry is answered as the original, in the object's own transaction.

A caller sending ``Idempotency-Key`` claims the key for its party. The claim is not written on its
own: ``Database.write()`` inserts it at the start of the first write transaction of the request
(``claiming``), so the key row and the object the request creates commit together or not at all.
After the route answers, the answer (status, media type, body) is kept on the row before it is
sent, so every answer a client ever received can be replayed byte for byte.

A concurrent request with the same key fails on the row's primary key (``RequestKeyTaken``) and
nothing of it is stored; PostgreSQL makes it wait for the first one's commit first.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.store.schema import metadata

request_keys = sa.Table(
    "request_keys",
    metadata,
    sa.Column("scope", sa.String(80), primary_key=True),
    sa.Column("key", sa.String(140), primary_key=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("method", sa.String(8), nullable=False),
    sa.Column("path", sa.String(2048), nullable=False),
    sa.Column("created_s", sa.Double, nullable=False, index=True),
    sa.Column("boot", sa.String(32), nullable=False),
    sa.Column("status", sa.Integer, nullable=True),
    sa.Column("media_type", sa.String(100), nullable=True),
    sa.Column("answer", sa.LargeBinary, nullable=True),
)


class RequestKeyTaken(Exception):  # not a KeepclearError: the key middleware, not a problem handler, takes it
    """Another request with the same key committed first; this one stored nothing."""


@dataclass
class Claim:
    """A key a request will hold if it writes anything; ``held`` once its row is in a transaction."""

    scope: str
    key: str
    fingerprint: str
    method: str
    path: str
    created_s: float
    boot: str
    held: bool = False


@dataclass(frozen=True, slots=True)
class StoredKey:
    """A key as stored: what request it was for and, once answered, the answer."""

    fingerprint: str
    method: str
    path: str
    created_s: float
    boot: str
    status: int | None
    media_type: str | None
    answer: bytes | None
    #: Stored under the scope of the build before keys were the party's and the role's (``find``).
    legacy: bool = False


_CLAIM: contextvars.ContextVar[Claim | None] = contextvars.ContextVar("keepclear_request_claim", default=None)


@contextmanager
def claiming(claim: Claim) -> Iterator[Claim]:
    """The first write transaction opened in this context (and threads it hands work to) holds ``claim``."""
    token = _CLAIM.set(claim)
    try:
        yield claim
    finally:
        _CLAIM.reset(token)


def hold_pending_claim(conn: Connection) -> Claim | None:
    """Called by ``Database.write()`` at the start of each transaction: insert the context's claim
    unless an earlier transaction holds it; returns the claim this transaction took, or None."""
    claim = _CLAIM.get()
    if claim is None or claim.held:
        return None
    try:
        conn.execute(
            request_keys.insert().values(
                scope=claim.scope,
                key=claim.key,
                fingerprint=claim.fingerprint,
                method=claim.method,
                path=claim.path,
                created_s=claim.created_s,
                boot=claim.boot,
            )
        )
    except sa.exc.IntegrityError:
        raise RequestKeyTaken(claim.key) from None
    claim.held = True
    return claim


def find(conn: Connection, scope: str, key: str, legacy_scope: str | None = None) -> StoredKey | None:
    """The key ``key`` of ``scope``, else of ``legacy_scope`` (``legacy``: the scope a build before
    kept the same caller's keys under), or None; one statement."""
    scopes = [scope] if legacy_scope is None else [scope, legacy_scope]
    rows = conn.execute(
        sa.select(request_keys).where(request_keys.c.scope.in_(scopes), request_keys.c.key == key)
    ).all()
    row = next((r for r in rows if r.scope == scope), rows[0] if rows else None)
    if row is None:
        return None
    return StoredKey(
        row.fingerprint,
        row.method,
        row.path,
        row.created_s,
        row.boot,
        row.status,
        row.media_type,
        None if row.answer is None else bytes(row.answer),
        legacy=row.scope != scope,
    )


def save_answer(conn: Connection, claim: Claim, status: int, media_type: str, answer: bytes) -> None:
    """Keep the answer given to the request that holds ``claim``."""
    conn.execute(
        request_keys.update()
        .where(request_keys.c.scope == claim.scope, request_keys.c.key == claim.key)
        .values(status=status, media_type=media_type, answer=answer)
    )


def forget(conn: Connection, claim: Claim) -> None:
    """Drop the key ``claim`` holds (its request was refused and stored nothing)."""
    conn.execute(request_keys.delete().where(request_keys.c.scope == claim.scope, request_keys.c.key == claim.key))


def prune(conn: Connection, older_than_s: float, limit: int) -> int:
    """Forget the oldest ``limit`` keys (at most) created before ``older_than_s``; returns how many."""
    oldest = (
        sa.select(request_keys.c.scope, request_keys.c.key)
        .where(request_keys.c.created_s < older_than_s)
        .order_by(request_keys.c.created_s)
        .limit(limit)
    )
    due = [tuple(row) for row in conn.execute(oldest)]
    if not due:
        return 0
    named = sa.tuple_(request_keys.c.scope, request_keys.c.key).in_(due)
    return conn.execute(request_keys.delete().where(named)).rowcount or 0
