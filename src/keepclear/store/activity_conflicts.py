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
from keepclear.store.activity_schema import activities, activity_conflicts


@dataclass(frozen=True, slots=True)
class StoredConflict:
    """A conflict as recorded, with the version of the activity it was found for."""

    activity_id: str
    version: int
    conflict: Conflict
    detected_s: float


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
class Capped:
    """The first conflicts of one activity's list (``shown``, in the list's order) and how many the
    list holds in all (``total``)."""

    shown: tuple[StoredConflict, ...]
    total: int


@dataclass(frozen=True, slots=True)
class _Lists:
    """One list of recorded conflicts per activity, each found for the current version of the
    activity that recorded it (an amendment that moved it away ends them): ``key``, the column naming
    the activity a list is of; ``party_id``, the party whose activities the conflicts are against
    (None: any); ``newest_first``, the order by row id (else as found)."""

    key: str
    party_id: str | None
    newest_first: bool

    @property
    def own(self) -> bool:
        """Whether each list is what its own activity recorded (else what others recorded against it)."""
        return self.key == "activity_id"

    def conflicts(self) -> tuple[sa.FromClause, sa.Select[Any]]:
        """The conflicts' alias and the ids of every list's conflicts (what others recorded: their
        current versions'); narrowed by ``key`` to some lists."""
        c = activity_conflicts.alias("c")
        recorder = activities.alias("recorder")
        current = sa.and_(recorder.c.id == c.c.activity_id, recorder.c.current_version == c.c.version)
        query = sa.select(c.c.id).select_from(c.join(recorder, current))
        return c, query if self.party_id is None else query.where(c.c.target_party_id == self.party_id)

    def ids_of(self, listed: sa.FromClause) -> tuple[sa.FromClause, sa.Select[Any]]:
        """The conflicts' alias and the ids of the list of ``listed`` (an alias of the activities,
        correlated or not): one range of the key's index. An activity's own list is its current
        version's, named by it (PostgreSQL, told the version only through another join, walked every
        conflict in id order to find an activity's first few)."""
        if self.own:
            own = activity_conflicts.alias("c")
            of_listed = sa.and_(own.c.activity_id == listed.c.id, own.c.version == listed.c.current_version)
            return own, sa.select(own.c.id).where(of_listed)
        c, query = self.conflicts()
        return c, query.where(c.c[self.key] == listed.c.id)

    def ids_of_one(self, activity_id: str) -> tuple[sa.FromClause, sa.Select[Any]]:
        """The conflicts' alias and the ids of ``activity_id``'s list, its current version read apart
        (PostgreSQL, told it only through a join, walked the conflicts by id filtering them)."""
        if self.own:
            own = activity_conflicts.alias("c")
            version = sa.select(activities.c.current_version).where(activities.c.id == activity_id)
            of_one = sa.and_(own.c.activity_id == activity_id, own.c.version == version.scalar_subquery())
            return own, sa.select(own.c.id).where(of_one)
        c, query = self.conflicts()
        return c, query.where(c.c[self.key] == activity_id)

    def order(self, row_id: sa.ColumnElement[int]) -> sa.UnaryExpression[int]:
        return row_id.desc() if self.newest_first else row_id.asc()


def _overlaps(party_id: str) -> _Lists:
    """What others' activities recorded against each of ``party_id``'s, most recently found first."""
    return _Lists("target_id", party_id, newest_first=True)


#: What each activity's own check found (its current version's), as found.
_OWN = _Lists("activity_id", None, newest_first=False)


def _capped(conn: Connection, lists: _Lists, activity_ids: Sequence[str], most: int) -> dict[str, Capped]:
    """The first ``most`` of each of ``activity_ids``' lists and their counts, every id present; two
    statements whatever the ids and however many were recorded: the first ``most`` of each list (one
    range of its index each, read whole), and the counts (no geometry read)."""
    if not activity_ids:
        return {}
    shown: dict[str, list[StoredConflict]] = {i: [] for i in activity_ids}
    for row in conn.execute(_first_of_each(conn, lists, list(activity_ids), most)):
        shown[row.listed_id].append(_stored_conflict(row))
    totals = dict.fromkeys(activity_ids, 0)
    totals |= {row.listed_id: int(row.total) for row in conn.execute(_counts(conn, lists, list(activity_ids)))}
    return {i: Capped(tuple(shown[i]), totals[i]) for i in activity_ids}


def overlaps_of(conn: Connection, party_id: str, target_ids: Sequence[str], most: int) -> dict[str, Capped]:
    """For each of ``party_id``'s ``target_ids``: at most ``most`` conflicts others' activities
    recorded against it, most recently found first, and their count; every id present. Two
    statements (``_capped``), on the (target, party, id) index."""
    return _capped(conn, _overlaps(party_id), target_ids, most)


def conflicts_of(conn: Connection, activity_ids: Sequence[str], most: int) -> dict[str, Capped]:
    """For each of ``activity_ids``: at most ``most`` of the conflicts its current version's check
    found, as found, and their count; every id present. Two statements (``_capped``), on the
    (activity, version, id) index."""
    return _capped(conn, _OWN, activity_ids, most)


def _first_of_each(conn: Connection, lists: _Lists, activity_ids: list[str], most: int) -> sa.Select[Any]:
    """The rows of the first ``most`` conflicts of each of ``activity_ids``' lists (``listed_id``: whose),
    list by list in order. Per list a bounded range of the index: PostgreSQL joins it laterally;
    SQLite, which has no LATERAL, reads it as a correlated list (both plans checked: neither passes
    over the rest)."""
    listed = activities.alias("listed")
    c, ids = lists.ids_of(listed)
    first = ids.order_by(lists.order(c.c.id)).limit(most)
    if conn.dialect.name == "postgresql":
        lateral = first.lateral("first")
        joined = listed.join(lateral, sa.true()).join(activity_conflicts, activity_conflicts.c.id == lateral.c.id)
    else:
        joined = listed.join(activity_conflicts, activity_conflicts.c.id.in_(first))
    query = sa.select(activity_conflicts, listed.c.id.label("listed_id")).select_from(joined)
    query = query.where(listed.c.id.in_(activity_ids))
    return query.order_by(listed.c.id, lists.order(activity_conflicts.c.id))


def _counts(conn: Connection, lists: _Lists, activity_ids: list[str]) -> sa.Select[Any]:
    """How many conflicts each of ``activity_ids``' lists holds (``listed_id``, ``total``), ids alone:
    one count per list down its index; what others recorded grouped on PostgreSQL (on SQLite grouping
    all of them took the party's index: twice as slow)."""
    if conn.dialect.name == "postgresql" and not lists.own:
        c, ids = lists.conflicts()
        key = c.c[lists.key]
        counted = ids.with_only_columns(key.label("listed_id"), sa.func.count().label("total"))
        return counted.where(key.in_(activity_ids)).group_by(key)
    listed = activities.alias("listed")
    total = lists.ids_of(listed)[1].with_only_columns(sa.func.count()).scalar_subquery()
    return sa.select(listed.c.id.label("listed_id"), total.label("total")).where(listed.c.id.in_(activity_ids))


def _after(
    conn: Connection, lists: _Lists, activity_id: str, after_id: int | None, limit: int
) -> list[tuple[int, StoredConflict]]:
    """Up to ``limit`` conflicts of ``activity_id``'s list in its order, after the one whose row id is
    ``after_id`` (None: from the first); each with its row id (the next page's position). One range
    of the list's index."""
    c, ids = lists.ids_of_one(activity_id)
    query = ids.with_only_columns(*c.c)
    if after_id is not None:
        query = query.where(c.c.id < after_id if lists.newest_first else c.c.id > after_id)
    query = query.order_by(lists.order(c.c.id)).limit(limit)
    return [(int(r.id), _stored_conflict(r)) for r in conn.execute(query)]


def overlaps_after(
    conn: Connection, party_id: str, target_id: str, after_id: int | None, limit: int
) -> list[tuple[int, StoredConflict]]:
    """Up to ``limit`` conflicts others' activities recorded against ``party_id``'s ``target_id``,
    most recently found first, after the one whose row id is ``after_id`` (None: from the first)."""
    return _after(conn, _overlaps(party_id), target_id, after_id, limit)


def conflicts_after(
    conn: Connection, activity_id: str, after_id: int | None, limit: int
) -> list[tuple[int, StoredConflict]]:
    """Up to ``limit`` conflicts the check of ``activity_id``'s current version found, as found,
    after the one whose row id is ``after_id`` (None: from the first)."""
    return _after(conn, _OWN, activity_id, after_id, limit)
