"""The activity log: one row per change of an activity, whose growing ``seq`` the caches of live
activities (``LiveIndex``) catch up on, and which is each activity's history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.store.activity_schema import activity_log
from keepclear.store.schema import zones_version

# Statements built once: a statement with its values inlined is built and keyed again on every call,
# which costs more CPU than the round trip on the notify path.
_INSERT_LOG = activity_log.insert().returning(activity_log.c.seq, sort_by_parameter_order=True)
_CHANGES_SINCE = (
    sa.select(zones_version.c.version, activity_log.c.seq, activity_log.c.activity_id)
    .select_from(zones_version.outerjoin(activity_log, activity_log.c.seq > sa.bindparam("b_seq")))
    .where(zones_version.c.id == 1)
)


def log_change(
    conn: Connection, activity_id: str, version: int, change: str, party_id: str, now_s: float, detail: str = ""
) -> int:
    """Append one change to the activity log; returns its ``seq``."""
    return log_changes(conn, [LogEntry(activity_id, version, change, party_id, detail)], now_s)[0]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One change to append to the activity log."""

    activity_id: str
    version: int
    change: str
    party_id: str
    detail: str = ""


def log_changes(conn: Connection, entries: Sequence[LogEntry], now_s: float) -> list[int]:
    """Append changes to the activity log in one statement; returns their ``seq``, in order."""
    if not entries:
        return []
    rows = [
        {
            "activity_id": e.activity_id,
            "version": e.version,
            "change": e.change,
            "party_id": e.party_id,
            "time_s": now_s,
            "detail": e.detail,
        }
        for e in entries
    ]
    return [int(seq) for seq in conn.execute(_INSERT_LOG, rows).scalars()]


def changes_since(conn: Connection, seq: int) -> tuple[int, dict[str, int], int]:
    """What changed after log ``seq``, in one statement: the newest log ``seq``, the activities
    changed since with the ``seq`` of each one's latest change, and the zones' version
    (``zones_version``, moved on by every change to the zone table)."""
    rows = conn.execute(_CHANGES_SINCE, {"b_seq": seq})
    newest, zones_at = seq, 0
    changed: dict[str, int] = {}
    for row in rows:
        zones_at = int(row.version)
        if row.seq is not None:
            newest = max(newest, row.seq)
            changed[row.activity_id] = max(changed.get(row.activity_id, 0), row.seq)
    return newest, changed, zones_at


def history(conn: Connection, activity_id: str) -> list[dict[str, Any]]:
    """The change log of one activity, oldest first."""
    rows = conn.execute(
        sa.select(activity_log).where(activity_log.c.activity_id == activity_id).order_by(activity_log.c.seq)
    )
    return [
        {"version": r.version, "change": r.change, "party_id": r.party_id, "time_s": r.time_s, "detail": r.detail}
        for r in rows
    ]
