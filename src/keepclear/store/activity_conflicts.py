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


def conflicts_against_party(
    conn: Connection, party_id: str, target_ids: Sequence[str] | None = None
) -> list[StoredConflict]:
    """Conflicts other parties' activities recorded against the activities of ``party_id`` (those of
    ``target_ids`` when given: a page), found for the current version of the activity that overlaps
    (an amendment that moved it away ends them); one statement."""
    query = (
        sa.select(activity_conflicts)
        .join(activities, of_current_version(activity_conflicts))
        .where(activity_conflicts.c.target_party_id == party_id)
    )
    if target_ids is not None:
        query = query.where(activity_conflicts.c.target_id.in_(list(target_ids)))
    return [_stored_conflict(r) for r in conn.execute(query.order_by(activity_conflicts.c.id))]
