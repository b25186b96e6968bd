"""Acknowledgements and escalations: where each addressee stands on each notified version, its
deadline, and each step of its roster called when the deadline passed unanswered.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.activities import ActivityStatus
from keepclear.store.activity_schema import (
    activities,
    activity_acks,
    activity_escalations,
    grouped,
    of_current_version,
)


@dataclass(frozen=True, slots=True)
class AckState:
    """Where one addressee stands on one version: ``pending``, ``acknowledged`` or ``objected``."""

    party_id: str
    version: int
    state: str
    reason: str
    answered_s: float | None
    due_s: float | None
    deadline_s: float
    level: int
    exhausted: bool


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One escalation: the addressee's roster position ``level`` was called at ``time_s``.

    ``contact_name`` None means the roster was exhausted.
    """

    activity_id: str
    version: int
    party_id: str
    level: int
    contact_name: str | None
    contact_role: str | None
    time_s: float


def acks_of_current(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[AckState]]:
    """Every addressee's state on the current version of each of ``activity_ids``, by party; one
    statement (``activity_ids``: a page, at most a few thousand)."""
    query = (
        sa.select(activity_acks)
        .join(activities, of_current_version(activity_acks))
        .where(activities.c.id.in_(list(activity_ids)))
        .order_by(activity_acks.c.activity_id, activity_acks.c.party_id)
    )
    return grouped(conn, activity_ids, query, _ack)


def escalations_of(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[EscalationStep]]:
    """Every escalation step of each of ``activity_ids``, in order; one statement."""
    query = (
        sa.select(activity_escalations)
        .where(activity_escalations.c.activity_id.in_(list(activity_ids)))
        .order_by(activity_escalations.c.id)
    )
    return grouped(conn, activity_ids, query, _escalation)


def insert_acks(conn: Connection, opened: Iterable[tuple[str, int, Mapping[str, float]]], now_s: float) -> None:
    """Open one pending acknowledgement per addressee of each (activity, version, deadlines), due
    ``deadlines[party]`` seconds from now; one statement."""
    rows = [
        {
            "activity_id": activity_id,
            "version": version,
            "party_id": party,
            "state": "pending",
            "reason": "",
            "answered_s": None,
            "due_s": now_s + deadline_s,
            "deadline_s": deadline_s,
            "level": 0,
            "exhausted": False,
        }
        for activity_id, version, deadlines_s in opened
        for party, deadline_s in sorted(deadlines_s.items())
    ]
    if rows:
        conn.execute(activity_acks.insert(), rows)


def _ack(row: Any) -> AckState:
    return AckState(
        party_id=row.party_id,
        version=row.version,
        state=row.state,
        reason=row.reason,
        answered_s=row.answered_s,
        due_s=row.due_s,
        deadline_s=row.deadline_s,
        level=row.level,
        exhausted=bool(row.exhausted),
    )


def get_acks(conn: Connection, activity_id: str, version: int) -> list[AckState]:
    """Every addressee's state on ``version``, by party."""
    rows = conn.execute(
        sa.select(activity_acks)
        .where(activity_acks.c.activity_id == activity_id, activity_acks.c.version == version)
        .order_by(activity_acks.c.party_id)
    )
    return [_ack(r) for r in rows]


def answer_ack(
    conn: Connection, activity_id: str, version: int, party_id: str, state: str, reason: str, now_s: float
) -> None:
    """Record an addressee's answer; it stops the deadline."""
    conn.execute(
        activity_acks.update()
        .where(
            activity_acks.c.activity_id == activity_id,
            activity_acks.c.version == version,
            activity_acks.c.party_id == party_id,
        )
        .values(state=state, reason=reason, answered_s=now_s, due_s=None)
    )


def stop_deadlines(conn: Connection, activity_id: str) -> None:
    """Stop every running deadline of an activity (cancelled, completed, or superseded)."""
    conn.execute(activity_acks.update().where(activity_acks.c.activity_id == activity_id).values(due_s=None))


def overdue_acks(conn: Connection, now_s: float, limit: int | None = None) -> list[tuple[str, AckState]]:
    """(activity id, state) of the pending acknowledgements of current versions due by ``now_s``,
    oldest due first; the first ``limit`` of them when given."""
    query = (
        sa.select(activity_acks)
        .join(activities, of_current_version(activity_acks))
        .where(
            activity_acks.c.state == "pending",
            activity_acks.c.due_s.is_not(None),
            activity_acks.c.due_s <= now_s,
            activities.c.status.in_([ActivityStatus.NOTIFIED.value, ActivityStatus.ACTIVE.value]),
        )
        .order_by(activity_acks.c.due_s, activity_acks.c.activity_id, activity_acks.c.party_id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [(r.activity_id, _ack(r)) for r in conn.execute(query)]


def escalate_ack(conn: Connection, step: EscalationStep, next_due_s: float | None) -> None:
    """Record an escalation step and move the acknowledgement to its level and next due time."""
    conn.execute(
        activity_escalations.insert().values(
            activity_id=step.activity_id,
            version=step.version,
            party_id=step.party_id,
            level=step.level,
            contact_name=step.contact_name,
            contact_role=step.contact_role,
            time_s=step.time_s,
        )
    )
    conn.execute(
        activity_acks.update()
        .where(
            activity_acks.c.activity_id == step.activity_id,
            activity_acks.c.version == step.version,
            activity_acks.c.party_id == step.party_id,
        )
        .values(level=step.level, due_s=next_due_s, exhausted=step.contact_name is None)
    )


def get_escalations(conn: Connection, activity_id: str) -> list[EscalationStep]:
    """Every escalation step of an activity, in order."""
    rows = conn.execute(
        sa.select(activity_escalations)
        .where(activity_escalations.c.activity_id == activity_id)
        .order_by(activity_escalations.c.id)
    )
    return [_escalation(r) for r in rows]


def _escalation(r: Any) -> EscalationStep:
    return EscalationStep(r.activity_id, r.version, r.party_id, r.level, r.contact_name, r.contact_role, r.time_s)
