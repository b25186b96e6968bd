"""Recorded conflicts: what each check of an activity's version found, kept for its notifier and
for the party whose activity or zone it overlaps.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from shapely.geometry import mapping, shape
from sqlalchemy.engine import Connection

from keepclear.detect.strategic import Conflict, ConflictKind
from keepclear.store.activity_schema import activities, activity_conflicts, activity_versions, of_current_version


@dataclass(frozen=True, slots=True)
class StoredConflict:
    """A conflict as recorded, with the version of the activity it was found for."""

    activity_id: str
    version: int
    conflict: Conflict
    detected_s: float


def insert_conflicts(conn: Connection, found: Iterable[tuple[str, int, Iterable[Conflict]]], now_s: float) -> None:
    """Record the conflicts found for each (activity, version, conflicts) at ``now_s`` (``record``)."""
    record(conn, [StoredConflict(a, version, c, now_s) for a, version, conflicts in found for c in conflicts])


def record(conn: Connection, found: Sequence[StoredConflict]) -> None:
    """Record ``found``, and count them where the totals are read: each with its activity's version
    (``conflicts_total``) and, those of current versions, with the activity each is against
    (``overlapped_by_total``). The one path that stores conflicts; what an amended version
    recorded leaves them through ``supersede``. At most four statements, however many."""
    if not found:
        return
    heads = sa.select(activities.c.id, activities.c.current_version).where(
        activities.c.id.in_({s.activity_id for s in found})
    )
    current = {a: v for a, v in conn.execute(heads)}
    rows = [_row(s, superseded=current.get(s.activity_id) != s.version) for s in found]
    conn.execute(activity_conflicts.insert(), rows)
    of_version = Counter((r["activity_id"], r["version"]) for r in rows)
    conn.execute(
        _COUNT_OWN,
        [{"b_activity_id": a, "b_version": v, "b_n": n} for (a, v), n in of_version.items()],
    )
    _count_against(conn, Counter((r["target_id"], r["target_party_id"]) for r in rows if _counted(r)), 1)


def supersede(conn: Connection, activity_id: str, version: int) -> None:
    """``activity_id``'s ``version`` is no longer its current one (it was amended): what its check
    recorded leaves the lists and totals of what overlaps others' activities. As many rows as that
    check found are touched (its own), whatever others recorded."""
    of_version = sa.and_(
        activity_conflicts.c.activity_id == activity_id,
        activity_conflicts.c.version == version,
        activity_conflicts.c.superseded == sa.false(),
    )
    key = (activity_conflicts.c.target_id, activity_conflicts.c.target_party_id)
    counted = sa.select(*key, sa.func.count()).where(of_version, activity_conflicts.c.target_party_id.is_not(None))
    against = {(t, p): n for t, p, n in conn.execute(counted.group_by(*key))}
    _count_against(conn, against, -1)
    conn.execute(activity_conflicts.update().where(of_version).values(superseded=True))


def _counted(row: dict[str, Any]) -> bool:
    """Whether ``row`` counts in the total of what overlaps its target: of a current version, against
    an activity (a zone has no party)."""
    return not row["superseded"] and row["target_party_id"] is not None


#: One version's conflicts counted: ``b_n`` more.
_COUNT_OWN = (
    activity_versions.update()
    .where(
        activity_versions.c.activity_id == sa.bindparam("b_activity_id"),
        activity_versions.c.version == sa.bindparam("b_version"),
    )
    .values(conflicts_total=activity_versions.c.conflicts_total + sa.bindparam("b_n"))
)

#: The conflicts against one activity (of its party) counted: ``b_n`` more.
_COUNT_AGAINST = (
    activities.update()
    .where(activities.c.id == sa.bindparam("b_target_id"), activities.c.party_id == sa.bindparam("b_party_id"))
    .values(overlapped_by_total=activities.c.overlapped_by_total + sa.bindparam("b_n"))
)


def _count_against(conn: Connection, against: Mapping[tuple[str, str], int], sign: int) -> None:
    """Add ``sign`` times each count of ``against`` (by target and its party) to its target's total;
    one statement, none without counts."""
    if against:
        conn.execute(
            _COUNT_AGAINST,
            [{"b_target_id": t, "b_party_id": p, "b_n": sign * n} for (t, p), n in sorted(against.items())],
        )


def _row(stored: StoredConflict, *, superseded: bool) -> dict[str, Any]:
    c = stored.conflict
    return {
        "activity_id": stored.activity_id,
        "version": stored.version,
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
        "detected_s": stored.detected_s,
        "superseded": superseded,
    }


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


#: A list that holds none (an activity's conflicts not read, what none recorded against a new one).
EMPTY = Capped((), 0)


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

    def _against(self, c: sa.FromClause, target_id: sa.ColumnElement[str] | str) -> sa.Select[Any]:
        """The ids of what others' current versions recorded against ``target_id``: one range of the
        (target, party, superseded, id) index, those amended away outside it."""
        return sa.select(c.c.id).where(
            c.c.target_id == target_id, c.c.target_party_id == self.party_id, c.c.superseded == sa.false()
        )

    def ids_of(self, listed: sa.FromClause) -> tuple[sa.FromClause, sa.Select[Any]]:
        """The conflicts' alias and the ids of the list of ``listed`` (an alias of the activities,
        correlated or not): one range of the key's index. An activity's own list is its current
        version's, named by it (PostgreSQL, told the version only through another join, walked every
        conflict in id order to find an activity's first few)."""
        c = activity_conflicts.alias("c")
        if self.own:
            of_listed = sa.and_(c.c.activity_id == listed.c.id, c.c.version == listed.c.current_version)
            return c, sa.select(c.c.id).where(of_listed)
        return c, self._against(c, listed.c.id)

    def ids_of_one(self, activity_id: str) -> tuple[sa.FromClause, sa.Select[Any]]:
        """The conflicts' alias and the ids of ``activity_id``'s list, its current version read apart
        (PostgreSQL, told it only through a join, walked the conflicts by id filtering them)."""
        c = activity_conflicts.alias("c")
        if self.own:
            version = sa.select(activities.c.current_version).where(activities.c.id == activity_id)
            of_one = sa.and_(c.c.activity_id == activity_id, c.c.version == version.scalar_subquery())
            return c, sa.select(c.c.id).where(of_one)
        return c, self._against(c, activity_id)

    def totals(self, activity_ids: list[str]) -> sa.Select[Any]:
        """How many conflicts each of ``activity_ids``' lists holds (``listed_id``, ``total``), as
        counted when recorded (``record``, ``supersede``): one row each, however many were recorded.
        What others recorded counts against an activity of ``party_id`` only, as its list holds."""
        if self.own:
            counted = sa.select(activities.c.id.label("listed_id"), activity_versions.c.conflicts_total.label("total"))
            counted = counted.join_from(activities, activity_versions, of_current_version(activity_versions))
        else:
            counted = sa.select(activities.c.id.label("listed_id"), activities.c.overlapped_by_total.label("total"))
            counted = counted.where(activities.c.party_id == self.party_id)
        return counted.where(activities.c.id.in_(activity_ids))

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
    range of its index each, read whole), and the counts kept with the activities (one row each)."""
    if not activity_ids:
        return {}
    shown: dict[str, list[StoredConflict]] = {i: [] for i in activity_ids}
    for row in conn.execute(_first_of_each(conn, lists, list(activity_ids), most)):
        shown[row.listed_id].append(_stored_conflict(row))
    totals = dict.fromkeys(activity_ids, 0)
    totals |= {row.listed_id: int(row.total) for row in conn.execute(lists.totals(list(activity_ids)))}
    return {i: Capped(tuple(shown[i]), totals[i]) for i in activity_ids}


def overlaps_of(conn: Connection, party_id: str, target_ids: Sequence[str], most: int) -> dict[str, Capped]:
    """For each of ``party_id``'s ``target_ids``: at most ``most`` conflicts others' activities
    recorded against it, most recently found first, and their count; every id present. Two
    statements (``_capped``), on the (target, party, superseded, id) index and the heads."""
    return _capped(conn, _overlaps(party_id), target_ids, most)


def conflicts_of(conn: Connection, activity_ids: Sequence[str], most: int) -> dict[str, Capped]:
    """For each of ``activity_ids``: at most ``most`` of the conflicts its current version's check
    found, as found, and their count; every id present. Two statements (``_capped``), on the
    (activity, version, id) index and the versions."""
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
