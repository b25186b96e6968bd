"""Zone proposals: shapes a party's feed drew (a TAK user's ``u-d-*`` drawing) waiting for an admin
to make them agreed zones or to refuse them. Kept apart from ``zones``: a proposal is not geography
anyone has agreed to, and never reaches the probe."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.errors import NotFoundError
from keepclear.store.schema import metadata

zone_proposals = sa.Table(
    "zone_proposals",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(200), nullable=False),  # e.g. the drawing's CoT uid
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("geometry", sa.Text, nullable=False),  # GeoJSON
    sa.Column("remarks", sa.Text, nullable=False),
    sa.Column("proposed_s", sa.Double, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),  # pending, accepted, refused
    sa.Column("decided_s", sa.Double, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("zone_id", sa.String(64), nullable=True),
    sa.UniqueConstraint("party_id", "source", name="uq_zone_proposals_party_source"),
    # The list's order, so a page is one range of an index (with and without a state): the admin's
    # list of every party's, and a party's list of its own (the others' proposals never read).
    sa.Index("ix_zone_proposals_proposed", "proposed_s", "id"),
    sa.Index("ix_zone_proposals_state_proposed", "state", "proposed_s", "id"),
    sa.Index("ix_zone_proposals_party_proposed", "party_id", "proposed_s", "id"),
    sa.Index("ix_zone_proposals_party_state_proposed", "party_id", "state", "proposed_s", "id"),
)


def _view(row: Any) -> dict[str, Any]:
    m = row._mapping
    return {**dict(m), "geometry": json.loads(m["geometry"])}


def upsert_pending(conn: Connection, values: dict[str, Any]) -> tuple[str, bool]:
    """Store a proposal; a pending one of the same party and source is replaced (the drawing was
    edited). Returns (id, created). A decided one is not reopened: its source proposes anew under a
    new id only after the decided row is gone, so a decision stands."""
    found = conn.execute(
        sa.select(zone_proposals.c.id, zone_proposals.c.state).where(
            zone_proposals.c.party_id == values["party_id"], zone_proposals.c.source == values["source"]
        )
    ).first()
    if found is None:
        conn.execute(zone_proposals.insert().values(**values, state="pending"))
        return values["id"], True
    if found.state == "pending":
        update = {k: v for k, v in values.items() if k not in ("id", "party_id", "source")}
        conn.execute(zone_proposals.update().where(zone_proposals.c.id == found.id).values(**update))
    return str(found.id), False


def pending_count(conn: Connection, party_id: str | None = None, but_source: str | None = None) -> int:
    """Pending proposals (of ``party_id``, when given; other than its ``but_source``, when given)."""
    query = sa.select(sa.func.count()).select_from(zone_proposals).where(zone_proposals.c.state == "pending")
    if party_id is not None:
        query = query.where(zone_proposals.c.party_id == party_id)
    if but_source is not None:
        query = query.where(zone_proposals.c.source != but_source)
    return int(conn.execute(query).scalar_one())


def list_proposals(conn: Connection, state: str | None = None) -> list[dict[str, Any]]:
    query = sa.select(zone_proposals).order_by(zone_proposals.c.proposed_s, zone_proposals.c.id)
    if state is not None:
        query = query.where(zone_proposals.c.state == state)
    return [_view(row) for row in conn.execute(query)]


def proposals_page(
    conn: Connection,
    state: str | None,
    after: tuple[float, str] | None,
    limit: int,
    party_id: str | None = None,
) -> list[dict[str, Any]]:
    """Up to ``limit`` proposals (of ``party_id`` and in ``state``, each when given) by (proposed
    time, id) after ``after`` (None: from the first); one statement, one range of an index."""
    query = sa.select(zone_proposals).order_by(zone_proposals.c.proposed_s, zone_proposals.c.id)
    if party_id is not None:
        query = query.where(zone_proposals.c.party_id == party_id)
    if state is not None:
        query = query.where(zone_proposals.c.state == state)
    if after is not None:
        proposed_s, proposal_id = after
        query = query.where(
            sa.or_(
                zone_proposals.c.proposed_s > proposed_s,
                sa.and_(zone_proposals.c.proposed_s == proposed_s, zone_proposals.c.id > proposal_id),
            )
        )
    return [_view(row) for row in conn.execute(query.limit(limit))]


def get_proposal(conn: Connection, proposal_id: str) -> dict[str, Any]:
    row = conn.execute(sa.select(zone_proposals).where(zone_proposals.c.id == proposal_id)).first()
    if row is None:
        raise NotFoundError(f"no zone proposal {proposal_id!r}")
    return _view(row)


def decide(conn: Connection, proposal_id: str, state: str, decided_s: float, reason: str, zone_id: str | None) -> None:
    conn.execute(
        zone_proposals.update()
        .where(zone_proposals.c.id == proposal_id)
        .values(state=state, decided_s=decided_s, reason=reason, zone_id=zone_id)
    )
