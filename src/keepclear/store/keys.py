"""Stored API keys: only a hash of each secret is kept."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.identity import KEY_LABEL_MAX_CHARS, ApiKeyInfo, Role
from keepclear.errors import NotFoundError
from keepclear.store.schema import metadata

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(32), primary_key=True),
    sa.Column("secret_sha256", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("party_id", sa.String(64), sa.ForeignKey("parties.id"), nullable=True),
    sa.Column("label", sa.String(KEY_LABEL_MAX_CHARS), nullable=False),
    sa.Column("created_s", sa.Double, nullable=False),
    sa.Column("revoked_s", sa.Double, nullable=True),
)


def _info(row: sa.Row[tuple[object, ...]]) -> ApiKeyInfo:
    m = row._mapping
    return ApiKeyInfo(m["key_id"], Role(m["role"]), m["party_id"], m["label"], m["created_s"], m["revoked_s"])


def insert_key(conn: Connection, info: ApiKeyInfo, secret_sha256: str) -> None:
    """Store a new key's hash."""
    conn.execute(
        api_keys.insert().values(
            key_id=info.key_id,
            secret_sha256=secret_sha256,
            role=info.role.value,
            party_id=info.party_id,
            label=info.label,
            created_s=info.created_s,
            revoked_s=None,
        )
    )


def find_key(conn: Connection, key_id: str) -> tuple[ApiKeyInfo, str] | None:
    """The key ``key_id`` and its stored hash, or None."""
    row = conn.execute(sa.select(api_keys).where(api_keys.c.key_id == key_id)).first()
    return None if row is None else (_info(row), row.secret_sha256)


def list_keys(conn: Connection) -> list[ApiKeyInfo]:
    """Every key, oldest first."""
    return [_info(r) for r in conn.execute(sa.select(api_keys).order_by(api_keys.c.created_s, api_keys.c.key_id))]


def valid_keys(conn: Connection, limit: int) -> list[tuple[ApiKeyInfo, str]]:
    """Up to ``limit`` keys not revoked, with their stored hashes, the newest first."""
    query = (
        sa.select(api_keys)
        .where(api_keys.c.revoked_s.is_(None))
        .order_by(api_keys.c.created_s.desc(), api_keys.c.key_id)
        .limit(limit)
    )
    return [(_info(r), r.secret_sha256) for r in conn.execute(query)]


def revoked_among(conn: Connection, key_ids: Collection[str]) -> list[ApiKeyInfo]:
    """Those of ``key_ids`` that are revoked (one statement on the primary key)."""
    if not key_ids:
        return []
    query = sa.select(api_keys).where(api_keys.c.key_id.in_(sorted(key_ids)), api_keys.c.revoked_s.is_not(None))
    return [_info(r) for r in conn.execute(query)]


def revoke_key(conn: Connection, key_id: str, revoked_s: float) -> None:
    """Mark ``key_id`` revoked (idempotent for a revoked key), or ``NotFoundError``."""
    row = conn.execute(sa.select(api_keys.c.revoked_s).where(api_keys.c.key_id == key_id)).first()
    if row is None:
        raise NotFoundError(f"key {key_id!r} does not exist")
    if row.revoked_s is None:
        conn.execute(api_keys.update().where(api_keys.c.key_id == key_id).values(revoked_s=revoked_s))
