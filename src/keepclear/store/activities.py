"""Stored activities: the head of each (status, current version) and every version ever stored.

``activities`` holds the heads, ``activity_versions`` the versions, each with the notice it was
notified with. What else is stored of an activity has its own module: its change log
(``activity_log``), its addressees' acknowledgements and escalations (``activity_acks``), the
conflicts its checks found (``activity_conflicts``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.errors import NotFoundError
from keepclear.geo.activity_doc import activity_from_document, activity_to_document
from keepclear.store.activity_schema import activities, activity_acks, activity_versions, of_current_version

# Statements built once: a statement with its values inlined is built and keyed again on every call,
# which costs more CPU than the round trip on the notify path.
_INSERT_HEAD = activities.insert()
_INSERT_VERSION = activity_versions.insert()
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
    query = sa.select(activity_acks.c.party_id).where(of_current_version(activity_acks))
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
