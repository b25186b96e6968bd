"""Recorded conflicts: what each check of an activity's version found, kept for its notifier and
for the party whose activity or zone it overlaps.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.engine import Connection

from keepclear.detect.strategic import Conflict, ConflictKind
from keepclear.store.activity_schema import activities, activity_conflicts, grouped, of_current_version


@dataclass(frozen=True, slots=True)
class StoredConflict:
    """A conflict as recorded, with the version of the activity it was found for."""

    activity_id: str
    version: int
    conflict: Conflict
    detected_s: float


def conflicts_of_current(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[StoredConflict]]:
    """The conflicts recorded for the current version of each of ``activity_ids``; one statement."""
    query = (
        sa.select(activity_conflicts)
        .join(activities, of_current_version(activity_conflicts))
        .where(activities.c.id.in_(list(activity_ids)))
        .order_by(activity_conflicts.c.id)
    )
    return grouped(conn, activity_ids, query, _stored_conflict)


def insert_conflicts(conn: Connection, found: Iterable[tuple[str, int, Iterable[Conflict]]], now_s: float) -> None:
    """Record the conflicts found for each (activity, version, conflicts); one statement."""
    rows = [
        {
            "activity_id": activity_id,
            "version": version,
            "kind": c.kind.value,
            "target_id": c.target_id,
            "target_party_id": c.target_party_id,
            "target_version": c.target_version,
            "geometry": json.dumps(mapping(c.geometry), separators=(",", ":")),
            "start_s": c.start_s,
            "end_s": c.end_s,
            "lower_ft": c.lower_ft,
            "upper_ft": c.upper_ft,
            "reason": c.reason,
            "required_notice_s": c.required_notice_s,
            "given_notice_s": c.given_notice_s,
            "detected_s": now_s,
        }
        for activity_id, version, conflicts in found
        for c in conflicts
    ]
    if rows:
        conn.execute(activity_conflicts.insert(), rows)


def _stored_conflict(row: Any) -> StoredConflict:
    geometry = shape(json.loads(row.geometry))
    conflict = Conflict(
        ConflictKind(row.kind),
        row.target_id,
        row.target_party_id,
        row.target_version,
        geometry,
        row.start_s,
        row.end_s,
        row.lower_ft,
        row.upper_ft,
        row.reason,
        row.required_notice_s,
        row.given_notice_s,
    )
    return StoredConflict(row.activity_id, row.version, conflict, row.detected_s)


@dataclass(frozen=True, slots=True)
class Overlaps:
    """What other parties' activities recorded against one activity: the ``shown`` ones, most
    recently found first (by the order recorded), and how many there are in all (``total``)."""

    shown: tuple[StoredConflict, ...]
    total: int


def _against(party_id: str) -> sa.Select[Any]:
    """The conflicts recorded against ``party_id``'s activities, found for the current version of
    the activity that overlaps (an amendment that moved it away ends them)."""
    return (
        sa.select(activity_conflicts)
        .join(activities, of_current_version(activity_conflicts))
        .where(activity_conflicts.c.target_party_id == party_id)
    )


def overlaps_of(conn: Connection, party_id: str, target_ids: Sequence[str], most: int) -> dict[str, Overlaps]:
    """For each of ``party_id``'s ``target_ids``: at most ``most`` conflicts others' activities
    recorded against it, most recently found first, and their count; every id present.

    Two statements whatever the ids and however many were recorded: the first ``most`` of each target
    (one range of the (target, party, id) index each, read whole), and the counts (no geometry read).
    """
    if not target_ids:
        return {}
    shown: dict[str, list[StoredConflict]] = {i: [] for i in target_ids}
    for row in conn.execute(_first_of_each(conn, party_id, list(target_ids), most)):
        shown[row.target_id].append(_stored_conflict(row))
    totals = dict.fromkeys(target_ids, 0)
    totals |= {row.target_id: int(row.total) for row in conn.execute(_counts(conn, party_id, list(target_ids)))}
    return {i: Overlaps(tuple(shown[i]), totals[i]) for i in target_ids}


def _against_target(party_id: str, target: sa.ColumnElement[str]) -> tuple[sa.FromClause, sa.Select[Any]]:
    """The ids of the conflicts (their current versions) others recorded against ``target``, and the
    conflicts' alias (for the order): one range of the (target, party, id) index."""
    c = activity_conflicts.alias("c")
    overlapping = activities.alias("overlapping")
    current = sa.and_(overlapping.c.id == c.c.activity_id, overlapping.c.current_version == c.c.version)
    query = sa.select(c.c.id).select_from(c.join(overlapping, current))
    return c, query.where(c.c.target_id == target, c.c.target_party_id == party_id)


def _first_of_each(conn: Connection, party_id: str, target_ids: list[str], most: int) -> sa.Select[Any]:
    """The rows of the first ``most`` conflicts against each of ``target_ids``, by target, most recent
    first. Per target a bounded range of the index: PostgreSQL joins it laterally; SQLite, which has
    no LATERAL, reads it as a correlated list (both plans checked: neither passes over the rest)."""
    target = activities.alias("target")
    c, against = _against_target(party_id, target.c.id)
    first = against.order_by(c.c.id.desc()).limit(most)
    if conn.dialect.name == "postgresql":
        lateral = first.lateral("first")
        joined = target.join(lateral, sa.true()).join(activity_conflicts, activity_conflicts.c.id == lateral.c.id)
    else:
        joined = target.join(activity_conflicts, activity_conflicts.c.id.in_(first))
    query = sa.select(activity_conflicts).select_from(joined).where(target.c.id.in_(target_ids))
    return query.order_by(activity_conflicts.c.target_id, activity_conflicts.c.id.desc())


def _counts(conn: Connection, party_id: str, target_ids: list[str]) -> sa.Select[Any]:
    """How many conflicts against each of ``target_ids`` (``target_id``, ``total``), ids alone. On SQLite
    one count per target down its index (grouping all of them took the party's index: twice as slow)."""
    c = activity_conflicts.c
    if conn.dialect.name == "postgresql":
        return (
            sa.select(c.target_id, sa.func.count().label("total"))
            .select_from(activity_conflicts.join(activities, of_current_version(activity_conflicts)))
            .where(c.target_party_id == party_id, c.target_id.in_(target_ids))
            .group_by(c.target_id)
        )
    target = activities.alias("target")
    total = _against_target(party_id, target.c.id)[1].with_only_columns(sa.func.count()).scalar_subquery()
    return sa.select(target.c.id.label("target_id"), total.label("total")).where(target.c.id.in_(target_ids))


def overlaps_after(
    conn: Connection, party_id: str, target_id: str, after_id: int | None, limit: int
) -> list[tuple[int, StoredConflict]]:
    """Up to ``limit`` conflicts others' activities recorded against ``party_id``'s ``target_id``,
    most recently found first, after the one whose row id is ``after_id`` (None: from the first);
    each with its row id (the next page's position). One range of the (target, party, id) index."""
    query = _against(party_id).where(activity_conflicts.c.target_id == target_id)
    if after_id is not None:
        query = query.where(activity_conflicts.c.id < after_id)
    query = query.order_by(activity_conflicts.c.id.desc()).limit(limit)
    return [(int(r.id), _stored_conflict(r)) for r in conn.execute(query)]
