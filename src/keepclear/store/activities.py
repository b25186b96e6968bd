"""Stored activities: every version kept, per-addressee acknowledgements, conflicts, escalation steps.

``activities`` holds the head of each activity (status, current version); ``activity_versions``
every version ever notified; ``activity_log`` one row per change with a growing ``seq`` that
caches of live activities read to catch up.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.engine import Connection

from keepclear.detect.strategic import Conflict, ConflictKind
from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.errors import NotFoundError
from keepclear.geo.activity_doc import activity_from_document, activity_to_document
from keepclear.store.activity_schema import (
    activities,
    activity_acks,
    activity_conflicts,
    activity_escalations,
    activity_log,
    activity_versions,
)
from keepclear.store.schema import zones_version

T = TypeVar("T")


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


@dataclass(frozen=True, slots=True)
class StoredConflict:
    """A conflict as recorded, with the version of the activity it was found for."""

    activity_id: str
    version: int
    conflict: Conflict
    detected_s: float


# Statements built once: a statement with its values inlined is built and keyed again on every call,
# which costs more CPU than the round trip on the notify path.
_INSERT_HEAD = activities.insert()
_INSERT_VERSION = activity_versions.insert()
_INSERT_LOG = activity_log.insert().returning(activity_log.c.seq, sort_by_parameter_order=True)
_STORED_IDS = sa.select(activities.c.id).where(activities.c.id.in_(sa.bindparam("b_ids", expanding=True)))
_MARK_NOTIFIED = (
    activity_versions.update()
    .where(
        activity_versions.c.activity_id == sa.bindparam("b_activity_id"),
        activity_versions.c.version == sa.bindparam("b_version"),
    )
    .values(
        notified_s=sa.bindparam("b_notified_s"),
        required_notice_s=sa.bindparam("b_required_s"),
        given_notice_s=sa.bindparam("b_given_s"),
    )
)
_CHANGES_SINCE = (
    sa.select(zones_version.c.version, activity_log.c.seq, activity_log.c.activity_id)
    .select_from(zones_version.outerjoin(activity_log, activity_log.c.seq > sa.bindparam("b_seq")))
    .where(zones_version.c.id == 1)
)


def _document(activity: Activity) -> str:
    return json.dumps(activity_to_document(activity, epoch_times=True), separators=(",", ":"))


def insert_activity(
    conn: Connection, activity: Activity, now_s: float, notice_s: tuple[float, float] | None = None
) -> None:
    """Store a new activity: its head and its first version (``notice_s``: required and given notice)."""
    insert_activities(conn, [(activity, notice_s)], now_s)


def insert_activities(
    conn: Connection, new: Sequence[tuple[Activity, tuple[float, float] | None]], now_s: float
) -> None:
    """Store new activities, each with its notice (required and given, or None), in two statements."""
    heads = [
        {
            "id": activity.id,
            "party_id": activity.party_id,
            "status": activity.status.value,
            "current_version": activity.version,
            "created_s": now_s,
            "updated_s": now_s,
        }
        for activity, _ in new
    ]
    if heads:
        conn.execute(_INSERT_HEAD, heads)
        conn.execute(_INSERT_VERSION, [_version_row(activity, now_s, notice_s) for activity, notice_s in new])


def insert_version(
    conn: Connection, activity: Activity, now_s: float, notice_s: tuple[float, float] | None = None
) -> None:
    """Store a new version of an existing activity (earlier versions stay; ``set_head`` moves the
    head); ``notice_s``, (required, given) seconds of notice, for a version notified as it is stored
    (what ``mark_notified`` writes)."""
    conn.execute(_INSERT_VERSION, _version_row(activity, now_s, notice_s))


def _version_row(activity: Activity, now_s: float, notice_s: tuple[float, float] | None) -> dict[str, Any]:
    required_s, given_s = (None, None) if notice_s is None else notice_s
    return {
        "activity_id": activity.id,
        "version": activity.version,
        "document": _document(activity),
        "kind": activity.kind.value,
        "start_s": activity.start_s,
        "end_s": activity.end_s,
        "created_s": now_s,
        "notified_s": activity.notified_s,
        "required_notice_s": required_s,
        "given_notice_s": given_s,
    }


def set_head(conn: Connection, activity_id: str, status: ActivityStatus, version: int, now_s: float) -> None:
    """Move an activity's head to ``status`` and ``version``."""
    conn.execute(
        activities.update()
        .where(activities.c.id == activity_id)
        .values(status=status.value, current_version=version, updated_s=now_s)
    )


def mark_notified(
    conn: Connection, activity_id: str, version: int, notified_s: float, required_s: float, given_s: float
) -> None:
    """Record when a version was notified and the notice it gave against the notice required."""
    conn.execute(
        _MARK_NOTIFIED,
        {
            "b_activity_id": activity_id,
            "b_version": version,
            "b_notified_s": notified_s,
            "b_required_s": required_s,
            "b_given_s": given_s,
        },
    )


def stored_ids(conn: Connection, activity_ids: Collection[str]) -> set[str]:
    """Which of ``activity_ids`` are stored (one statement)."""
    if not activity_ids:
        return set()
    return set(conn.execute(_STORED_IDS, {"b_ids": list(activity_ids)}).scalars())


def head_of(conn: Connection, activity_id: str) -> tuple[str, ActivityStatus, int] | None:
    """``activity_id``'s party, status and current version (its head row alone), or None."""
    row = conn.execute(
        sa.select(activities.c.party_id, activities.c.status, activities.c.current_version).where(
            activities.c.id == activity_id
        )
    ).first()
    return None if row is None else (row.party_id, ActivityStatus(row.status), row.current_version)


def get_activity(conn: Connection, activity_id: str, version: int | None = None) -> Activity:
    """The current (or the given) version of ``activity_id`` with its head status, or ``NotFoundError``."""
    head = conn.execute(sa.select(activities).where(activities.c.id == activity_id)).first()
    if head is None:
        raise NotFoundError(f"activity {activity_id!r} does not exist")
    wanted = head.current_version if version is None else version
    row = conn.execute(
        sa.select(activity_versions).where(
            activity_versions.c.activity_id == activity_id, activity_versions.c.version == wanted
        )
    ).first()
    if row is None:
        raise NotFoundError(f"activity {activity_id!r} has no version {wanted}")
    return _activity(row, head.party_id, ActivityStatus(head.status))


def _activity(row: Any, party_id: str, status: ActivityStatus) -> Activity:
    activity = activity_from_document(json.loads(row.document), party_id=party_id, epoch_times=True)
    return replace(activity, id=row.activity_id, version=row.version, status=status, notified_s=row.notified_s)


def list_versions(conn: Connection, activity_id: str) -> list[Activity]:
    """Every version of ``activity_id``, oldest first (status is the head's)."""
    head = conn.execute(sa.select(activities).where(activities.c.id == activity_id)).first()
    if head is None:
        raise NotFoundError(f"activity {activity_id!r} does not exist")
    rows = conn.execute(
        sa.select(activity_versions)
        .where(activity_versions.c.activity_id == activity_id)
        .order_by(activity_versions.c.version)
    )
    return [_activity(r, head.party_id, ActivityStatus(head.status)) for r in rows]


def list_activities(
    conn: Connection, *, statuses: Iterable[ActivityStatus] | None = None, ids: Iterable[str] | None = None
) -> list[Activity]:
    """Current versions of every activity (or those with ``statuses`` / ``ids``), by id."""
    query = (
        sa.select(activity_versions, activities.c.party_id, activities.c.status)
        .join(
            activities,
            sa.and_(
                activities.c.id == activity_versions.c.activity_id,
                activities.c.current_version == activity_versions.c.version,
            ),
        )
        .order_by(activities.c.id)
    )
    if statuses is not None:
        query = query.where(activities.c.status.in_([s.value for s in statuses]))
    if ids is not None:
        query = query.where(activities.c.id.in_(list(ids)))
    return [_activity(r, r.party_id, ActivityStatus(r.status)) for r in conn.execute(query)]


@dataclass(frozen=True, slots=True)
class CurrentVersion:
    """An activity's current version as stored, with the notice it was notified with."""

    activity: Activity
    required_notice_s: float | None
    given_notice_s: float | None


def _current_versions_query() -> sa.Select[Any]:
    return sa.select(activity_versions, activities.c.party_id, activities.c.status).join(
        activities,
        sa.and_(
            activities.c.id == activity_versions.c.activity_id,
            activities.c.current_version == activity_versions.c.version,
        ),
    )


def _current(row: Any) -> CurrentVersion:
    return CurrentVersion(
        _activity(row, row.party_id, ActivityStatus(row.status)), row.required_notice_s, row.given_notice_s
    )


def _answer_of_current(party_id: str | None) -> sa.Exists:
    """An acknowledgement row of the activity's current version (``party_id``'s, or anyone's)."""
    query = sa.select(activity_acks.c.party_id).where(_of_current_version(activity_acks))
    if party_id is not None:
        query = query.where(activity_acks.c.party_id == party_id)
    return query.exists()


def current_versions_page(
    conn: Connection, party_id: str | None, after_id: str | None, limit: int
) -> list[CurrentVersion]:
    """Up to ``limit`` activities by id after ``after_id`` (None: from the first), current versions,
    among those ``party_id`` may be shown: its own, and the others' once notified (not drafts) whose
    current version opened an acknowledgement for it, or opened none at all (addressed to every other
    party when no other party existed: ``ActivityService`` then reads every other party as an
    addressee). Notified versions open one acknowledgement per addressee (an explicit list is never
    empty), so this is the policy's ``activity_addressed`` read in one statement; the caller still
    asks the policy of each. ``party_id`` None: every activity (the operator's own tools). One
    statement."""
    query = _current_versions_query()
    if party_id is not None:
        query = query.where(
            sa.or_(
                activities.c.party_id == party_id,
                sa.and_(
                    activities.c.status != ActivityStatus.DRAFT.value,
                    sa.or_(_answer_of_current(party_id), ~_answer_of_current(None)),
                ),
            )
        )
    if after_id is not None:
        query = query.where(activities.c.id > after_id)
    return [_current(r) for r in conn.execute(query.order_by(activities.c.id).limit(limit))]


def current_version_of(conn: Connection, activity_id: str) -> CurrentVersion:
    """The current version of ``activity_id`` with its notice, or ``NotFoundError``; one statement."""
    row = conn.execute(_current_versions_query().where(activities.c.id == activity_id)).first()
    if row is None:
        raise NotFoundError(f"activity {activity_id!r} does not exist")
    return _current(row)


def _grouped(
    conn: Connection, activity_ids: Sequence[str], query: sa.Select[Any], item: Callable[[Any], T]
) -> dict[str, list[T]]:
    """The rows of ``query`` (already narrowed to ``activity_ids``) as ``item(row)``, grouped by
    ``activity_id`` in the query's order, every id present; one statement, none without ids."""
    out: dict[str, list[T]] = {i: [] for i in activity_ids}
    if activity_ids:
        for r in conn.execute(query):
            out[r.activity_id].append(item(r))
    return out


def acks_of_current(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[AckState]]:
    """Every addressee's state on the current version of each of ``activity_ids``, by party; one
    statement (``activity_ids``: a page, at most a few thousand)."""
    query = (
        sa.select(activity_acks)
        .join(activities, _of_current_version(activity_acks))
        .where(activities.c.id.in_(list(activity_ids)))
        .order_by(activity_acks.c.activity_id, activity_acks.c.party_id)
    )
    return _grouped(conn, activity_ids, query, _ack)


def conflicts_of_current(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[StoredConflict]]:
    """The conflicts recorded for the current version of each of ``activity_ids``; one statement."""
    query = (
        sa.select(activity_conflicts)
        .join(activities, _of_current_version(activity_conflicts))
        .where(activities.c.id.in_(list(activity_ids)))
        .order_by(activity_conflicts.c.id)
    )
    return _grouped(conn, activity_ids, query, _stored_conflict)


def escalations_of(conn: Connection, activity_ids: Sequence[str]) -> dict[str, list[EscalationStep]]:
    """Every escalation step of each of ``activity_ids``, in order; one statement."""
    query = (
        sa.select(activity_escalations)
        .where(activity_escalations.c.activity_id.in_(list(activity_ids)))
        .order_by(activity_escalations.c.id)
    )
    return _grouped(conn, activity_ids, query, _escalation)


def notice_of(conn: Connection, activity_id: str, version: int) -> tuple[float | None, float | None]:
    """(required, given) notice in seconds recorded when ``version`` was notified."""
    row = conn.execute(
        sa.select(activity_versions.c.required_notice_s, activity_versions.c.given_notice_s).where(
            activity_versions.c.activity_id == activity_id, activity_versions.c.version == version
        )
    ).first()
    return (None, None) if row is None else (row.required_notice_s, row.given_notice_s)


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


def latest_seq(conn: Connection) -> int:
    """The newest log ``seq`` (0 when empty)."""
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(activity_log.c.seq), 0))).scalar_one())


def history(conn: Connection, activity_id: str) -> list[dict[str, Any]]:
    """The change log of one activity, oldest first."""
    rows = conn.execute(
        sa.select(activity_log).where(activity_log.c.activity_id == activity_id).order_by(activity_log.c.seq)
    )
    return [
        {"version": r.version, "change": r.change, "party_id": r.party_id, "time_s": r.time_s, "detail": r.detail}
        for r in rows
    ]


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


def _of_current_version(table: sa.Table) -> sa.ColumnElement[bool]:
    """Join condition: the rows of ``table`` (``activity_id``, ``version``) of their activity's current version."""
    return sa.and_(activities.c.id == table.c.activity_id, activities.c.current_version == table.c.version)


def overdue_acks(conn: Connection, now_s: float) -> list[tuple[str, AckState]]:
    """(activity id, state) of every pending acknowledgement of a current version due by ``now_s``."""
    rows = conn.execute(
        sa.select(activity_acks)
        .join(activities, _of_current_version(activity_acks))
        .where(
            activity_acks.c.state == "pending",
            activity_acks.c.due_s.is_not(None),
            activity_acks.c.due_s <= now_s,
            activities.c.status.in_([ActivityStatus.NOTIFIED.value, ActivityStatus.ACTIVE.value]),
        )
        .order_by(activity_acks.c.due_s, activity_acks.c.activity_id, activity_acks.c.party_id)
    )
    return [(r.activity_id, _ack(r)) for r in rows]


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


def get_conflicts(conn: Connection, activity_id: str, version: int | None = None) -> list[StoredConflict]:
    """Conflicts recorded for an activity (every version, or one)."""
    query = sa.select(activity_conflicts).where(activity_conflicts.c.activity_id == activity_id)
    if version is not None:
        query = query.where(activity_conflicts.c.version == version)
    return [_stored_conflict(r) for r in conn.execute(query.order_by(activity_conflicts.c.id))]


def conflicts_against(conn: Connection, target_id: str) -> list[StoredConflict]:
    """Conflicts other activities recorded against ``target_id`` (an activity or zone id)."""
    query = sa.select(activity_conflicts).where(activity_conflicts.c.target_id == target_id)
    return [_stored_conflict(r) for r in conn.execute(query.order_by(activity_conflicts.c.id))]


def conflicts_against_party(
    conn: Connection, party_id: str, target_ids: Sequence[str] | None = None
) -> list[StoredConflict]:
    """Conflicts other parties' activities recorded against the activities of ``party_id`` (those of
    ``target_ids`` when given: a page), found for the current version of the activity that overlaps
    (an amendment that moved it away ends them); one statement."""
    query = (
        sa.select(activity_conflicts)
        .join(activities, _of_current_version(activity_conflicts))
        .where(activity_conflicts.c.target_party_id == party_id)
    )
    if target_ids is not None:
        query = query.where(activity_conflicts.c.target_id.in_(list(target_ids)))
    return [_stored_conflict(r) for r in conn.execute(query.order_by(activity_conflicts.c.id))]
