"""Tables and store functions of incidents: the incident, the parties' accounts, the timeline, the evidence.

Accounts, timeline items and evidence are insert-only: nothing here updates or deletes them. An
incident's parties, reporter and time are written once, with the incident, and never change; so
are its rows in ``incident_parties``, which index who may list it.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from keepclear.domain.incidents import Account, Incident, IncidentKind, ReviewStand, ReviewStatus, TimelineItem
from keepclear.errors import NotFoundError
from keepclear.store.schema import in_list_chunks, metadata

#: The longest party id a party may have (``keepclear.domain.ids``): an ``incident_parties`` row.
MAX_PARTY_ID_CHARS = 64

incidents = sa.Table(
    "incidents",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("time_s", sa.Double, nullable=False, index=True),
    sa.Column("opened_s", sa.Double, nullable=False),
    sa.Column("reported_by", sa.String(64), nullable=True),
    sa.Column("parties", sa.Text, nullable=False),
    sa.Column("unit_ids", sa.Text, nullable=False),
    sa.Column("alert_ids", sa.Text, nullable=False),
    sa.Column("zone_id", sa.String(64), nullable=True),
    sa.Column("zone_kind", sa.String(32), nullable=True),
    sa.Column("summary", sa.Text, nullable=False),
    sa.Column("evidence_sha256", sa.String(64), nullable=True),
    sa.Column("evidence_frozen_s", sa.Double, nullable=True),
    # The joint review: the involved parties whose last step agreed, and disputed, one per line
    # (migration 0027; NULL: none).
    sa.Column("review_agreed", sa.Text, nullable=True),
    sa.Column("review_disputed", sa.Text, nullable=True),
    # The times of the incidents keepclear opened (no reporter) only: what a trigger may merge with
    # (``open_incidents_concerned``), read without walking the reported ones near the same time.
    sa.Index(
        "ix_incidents_opened_time_s",
        "time_s",
        sqlite_where=sa.text("reported_by IS NULL"),
        postgresql_where=sa.text("reported_by IS NULL"),
    ),
)

incident_accounts = sa.Table(
    "incident_accounts",
    metadata,
    sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("party_id", sa.String(64), nullable=False),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("amends", sa.Integer, nullable=True),
)

incident_timeline = sa.Table(
    "incident_timeline",
    metadata,
    sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("time_s", sa.Double, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("party_id", sa.String(64), nullable=True),
    sa.Column("payload", sa.Text, nullable=False),
    # The timeline's order (time, then arrival) within one incident: a page of it, or the first
    # ``incident_view_max_timeline_items``, is one range of this index however long the timeline is.
    sa.Index("ix_incident_timeline_order", "incident_id", "time_s", "position"),
)

#: Which alerts belong to which incident (also on the incident, one per line), indexed by alert.
incident_alerts = sa.Table(
    "incident_alerts",
    metadata,
    sa.Column("alert_id", sa.String(64), primary_key=True),
    sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
)

#: Who each incident is listed to: one row per involved party and one for the reporter (a party's
#: ``GET /v1/incidents``), keyed by party and then the list's order (time, id), so that a party's
#: page is one range of the primary key however many incidents the others have. The incident's time
#: is copied here (it never changes) so the range is read in order without touching other rows.
#: Written in the incident's own insert (``insert_incidents``); filled for incidents stored before it
#: by migration 0015.
incident_parties = sa.Table(
    "incident_parties",
    metadata,
    sa.Column("party_id", sa.String(MAX_PARTY_ID_CHARS), primary_key=True),
    sa.Column("time_s", sa.Double, primary_key=True, autoincrement=False),
    sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
)

incident_evidence = sa.Table(
    "incident_evidence",
    metadata,
    sa.Column("incident_id", sa.String(64), sa.ForeignKey("incidents.id"), primary_key=True),
    sa.Column("sha256", sa.String(64), nullable=False),
    sa.Column("document", sa.Text, nullable=False),
)


def _lines(values: tuple[str, ...]) -> str:
    return "\n".join(values)


def _tuple(text: object) -> tuple[str, ...]:
    """The values stored one per line; none when the column holds something else than text (SQLite
    keeps any type in any column: one such row must not make every list holding it fail)."""
    return tuple(v for v in text.split("\n") if v) if isinstance(text, str) else ()


def listed_to(incident: Incident) -> list[str]:
    """The parties whose list shows ``incident`` (its ``incident_parties`` rows): each of its parties
    and its reporter, once, sorted; a value no party id can be (empty, longer than
    ``MAX_PARTY_ID_CHARS``) names nobody and gets no row."""
    named = {*incident.parties, *([incident.reported_by] if incident.reported_by is not None else [])}
    return sorted(p for p in named if 0 < len(p) <= MAX_PARTY_ID_CHARS)


def insert_incident(conn: Connection, incident: Incident) -> None:
    """Store a new incident."""
    insert_incidents(conn, [incident])


def insert_incidents(conn: Connection, new: Sequence[Incident]) -> None:
    """Store new incidents, in one statement per table (a storm of losses of separation opens many),
    with the rows saying whom each is listed to (``incident_parties``), in the caller's transaction."""
    if not new:
        return
    conn.execute(
        incidents.insert(),
        [
            {
                "id": incident.id,
                "kind": incident.kind.value,
                "status": incident.status.value,
                "time_s": incident.time_s,
                "opened_s": incident.opened_s,
                "reported_by": incident.reported_by,
                "parties": _lines(incident.parties),
                "unit_ids": _lines(incident.unit_ids),
                "alert_ids": _lines(incident.alert_ids),
                "zone_id": incident.zone_id,
                "zone_kind": incident.zone_kind,
                "summary": incident.summary,
            }
            for incident in new
        ],
    )
    links = [{"alert_id": a, "incident_id": incident.id} for incident in new for a in sorted(set(incident.alert_ids))]
    if links:
        conn.execute(incident_alerts.insert(), links)
    members = [
        {"party_id": party_id, "time_s": incident.time_s, "incident_id": incident.id}
        for incident in new
        for party_id in listed_to(incident)
    ]
    if members:
        conn.execute(incident_parties.insert(), members)


def _incident(row: sa.Row[tuple[Any, ...]]) -> Incident:
    return Incident(
        id=row.id,
        kind=IncidentKind(row.kind),
        status=ReviewStatus(row.status),
        time_s=row.time_s,
        opened_s=row.opened_s,
        reported_by=row.reported_by,
        parties=_tuple(row.parties),
        unit_ids=_tuple(row.unit_ids),
        alert_ids=_tuple(row.alert_ids),
        zone_id=row.zone_id,
        zone_kind=row.zone_kind,
        summary=row.summary,
        evidence_sha256=row.evidence_sha256,
        evidence_frozen_s=row.evidence_frozen_s,
        agreed_by=_tuple(row.review_agreed),
        disputed_by=_tuple(row.review_disputed),
    )


def get_incident(conn: Connection, incident_id: str, *, lock: bool = False) -> Incident:
    """One incident; ``NotFoundError`` when there is none."""
    query = sa.select(incidents).where(incidents.c.id == incident_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFoundError(f"incident {incident_id!r} does not exist")
    return _incident(row)


def list_incidents(
    conn: Connection, *, party_id: str | None = None, from_s: float | None = None, until_s: float | None = None
) -> list[Incident]:
    """Incidents by time (those involving ``party_id``, in ``[from_s, until_s)`` when given)."""
    query = sa.select(incidents).order_by(incidents.c.time_s, incidents.c.id)
    if from_s is not None:
        query = query.where(incidents.c.time_s >= from_s)
    if until_s is not None:
        query = query.where(incidents.c.time_s < until_s)
    found = [_incident(row) for row in conn.execute(query)]
    return [i for i in found if party_id is None or party_id in i.parties or i.reported_by == party_id]


def incidents_page(
    conn: Connection, party_id: str | None, after: tuple[float, str] | None, limit: int
) -> list[Incident]:
    """Up to ``limit`` incidents by (time, id) after ``after`` (None: from the first): every one
    (``party_id`` None: the admin) or those involving ``party_id`` (one of its ``parties``, or the
    reporter), as ``list_incidents`` filters them; one statement.

    A party's page is one range of ``incident_parties``' primary key (party, time, id), joined to
    the incidents by id: it reads the page's rows, not every incident, and a party id matches only
    itself (no text pattern: no case folding, no wildcard, no prefix).
    """
    if party_id is None:
        query = sa.select(incidents)
        time_s_column, id_column = incidents.c.time_s, incidents.c.id
    else:
        query = (
            sa.select(incidents)
            .select_from(incident_parties.join(incidents, incidents.c.id == incident_parties.c.incident_id))
            .where(incident_parties.c.party_id == party_id)
        )
        time_s_column, id_column = incident_parties.c.time_s, incident_parties.c.incident_id
    if after is not None:
        time_s, incident_id = after
        # The first condition alone bounds the range the index is read from; the second skips the
        # incidents at the cursor's time up to and including the cursor's.
        query = query.where(time_s_column >= time_s, sa.or_(time_s_column > time_s, id_column > incident_id))
    query = query.order_by(time_s_column, id_column).limit(limit)
    return [_incident(row) for row in conn.execute(query)]


def open_incidents_concerned(
    conn: Connection,
    *,
    alert_ids: Iterable[str],
    incident_ids: Iterable[str],
    time_windows: Iterable[tuple[float, float]],
    window_units: AbstractSet[str] | None = None,
) -> list[Incident]:
    """Open incidents linked to any of ``alert_ids``, named by ``incident_ids``, or opened by keepclear
    (no reporter) timed within any ``(from_s, until_s)`` window (inclusive) and, when ``window_units``
    is given, involving one of those units; by time: what a batch of events may touch, without
    reading every open incident (a storm opens thousands at the same moment, and only those of the
    batch's units matter). The windows find what a trigger would merge with, and a trigger merges
    only with what keepclear opened: the incidents parties report, in any number and at any time
    they choose, are not read for every batch of alert changes near that time."""
    alerts, ids, windows = sorted(set(alert_ids)), sorted(set(incident_ids)), list(time_windows)
    found: dict[str, Incident] = {}
    for chunk in in_list_chunks(alerts):
        query = sa.select(incident_alerts.c.incident_id).where(incident_alerts.c.alert_id.in_(chunk))
        ids.extend(row.incident_id for row in conn.execute(query))
    is_open = incidents.c.status != ReviewStatus.CLOSED.value
    for from_s, until_s in _merged(windows):
        query = sa.select(incidents.c.id, incidents.c.unit_ids).where(
            incidents.c.time_s >= from_s, incidents.c.time_s <= until_s, incidents.c.reported_by.is_(None), is_open
        )
        ids.extend(
            row.id
            for row in conn.execute(query)
            if window_units is None or not window_units.isdisjoint(_tuple(row.unit_ids))
        )
    for chunk in in_list_chunks(list(dict.fromkeys(ids))):
        query = sa.select(incidents).where(incidents.c.id.in_(chunk), is_open)
        found.update((row.id, _incident(row)) for row in conn.execute(query))
    return sorted(found.values(), key=lambda incident: (incident.time_s, incident.id))


def _merged(windows: list[tuple[float, float]]) -> list[tuple[float, float]]:
    merged: list[tuple[float, float]] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def unfrozen_incidents(conn: Connection, *, happened_before_s: float, limit: int | None = None) -> list[Incident]:
    """Incidents without frozen evidence that happened at or before ``happened_before_s``, oldest
    first (by time, then id); the first ``limit`` of them when given."""
    query = (
        sa.select(incidents)
        .where(incidents.c.evidence_sha256.is_(None), incidents.c.time_s <= happened_before_s)
        .order_by(incidents.c.time_s, incidents.c.id)
    )
    if limit is not None:
        query = query.limit(limit)
    return [_incident(row) for row in conn.execute(query)]


def set_status(conn: Connection, incident_id: str, status: ReviewStatus) -> None:
    """Move the review status (the operator's step: the parties' stances stay)."""
    conn.execute(incidents.update().where(incidents.c.id == incident_id).values(status=status.value))


def set_review(conn: Connection, incident_id: str, stand: ReviewStand) -> None:
    """Where the joint review stands after a party's step: status, who agrees, who disputes."""
    conn.execute(
        incidents.update()
        .where(incidents.c.id == incident_id)
        .values(
            status=stand.status.value,
            review_agreed=_lines(stand.agreed_by) or None,
            review_disputed=_lines(stand.disputed_by) or None,
        )
    )


def add_alert_id(conn: Connection, incident: Incident, alert_id: str) -> None:
    """Link one more alert to ``incident``."""
    ids = tuple(sorted({*incident.alert_ids, alert_id}))
    conn.execute(incidents.update().where(incidents.c.id == incident.id).values(alert_ids=_lines(ids)))
    if alert_id not in incident.alert_ids:
        conn.execute(incident_alerts.insert().values(alert_id=alert_id, incident_id=incident.id))


def freeze_evidence(conn: Connection, incident_id: str, sha256: str, document: str, frozen_s: float) -> None:
    """Store the frozen evidence (once: a second freeze violates the primary key)."""
    conn.execute(incident_evidence.insert().values(incident_id=incident_id, sha256=sha256, document=document))
    conn.execute(
        incidents.update()
        .where(incidents.c.id == incident_id)
        .values(evidence_sha256=sha256, evidence_frozen_s=frozen_s)
    )


def get_evidence(conn: Connection, incident_id: str) -> tuple[str, str] | None:
    """The frozen evidence ``(sha256, canonical JSON document)``, or None before freezing."""
    row = conn.execute(sa.select(incident_evidence).where(incident_evidence.c.incident_id == incident_id)).first()
    return None if row is None else (row.sha256, row.document)


def _next_position(conn: Connection, table: sa.Table, incident_id: str) -> int:
    current = conn.execute(sa.select(sa.func.max(table.c.position)).where(table.c.incident_id == incident_id))
    return int(current.scalar() or 0) + 1


def append_account(
    conn: Connection, incident_id: str, party_id: str, time_s: float, text: str, amends: int | None
) -> Account:
    """Append an account (never updates one); call with the incident row locked."""
    position = _next_position(conn, incident_accounts, incident_id)
    conn.execute(
        incident_accounts.insert().values(
            incident_id=incident_id, position=position, party_id=party_id, time_s=time_s, text=text, amends=amends
        )
    )
    return Account(incident_id, position, party_id, time_s, text, amends)


def accounts_written(conn: Connection, incident_id: str, party_id: str) -> int:
    """How many accounts and amendments ``party_id`` wrote in the incident (counted, not read)."""
    c = incident_accounts.c
    query = sa.select(sa.func.count()).where(c.incident_id == incident_id, c.party_id == party_id)
    return int(conn.execute(query).scalar_one())


def list_accounts(conn: Connection, incident_id: str) -> list[Account]:
    """Every account of an incident, in the order written."""
    rows = conn.execute(
        sa.select(incident_accounts)
        .where(incident_accounts.c.incident_id == incident_id)
        .order_by(incident_accounts.c.position)
    )
    return [Account(r.incident_id, r.position, r.party_id, r.time_s, r.text, r.amends) for r in rows]


def append_timeline(
    conn: Connection, incident_id: str, time_s: float, kind: str, party_id: str | None, payload: dict[str, Any]
) -> TimelineItem:
    """Append one item to the incident's timeline; call with the incident row locked."""
    (item,) = append_timeline_items(conn, incident_id, [(time_s, kind, party_id, payload)])
    return item


def append_timeline_items(
    conn: Connection, incident_id: str, items: list[tuple[float, str, str | None, dict[str, Any]]]
) -> list[TimelineItem]:
    """Append ``(time_s, kind, party_id, payload)`` items in order, in one statement (incident row locked)."""
    return append_timelines(conn, {incident_id: items})


def append_timelines(
    conn: Connection,
    timelines: Mapping[str, Sequence[tuple[float, str, str | None, dict[str, Any]]]],
    *,
    new: Collection[str] = (),
) -> list[TimelineItem]:
    """Append ``(time_s, kind, party_id, payload)`` items to several timelines, in order, in one statement.

    Incidents in ``new`` were created in this transaction and start at position 1; the others
    continue their numbering (call with their rows locked).
    """
    added: list[TimelineItem] = []
    for incident_id, items in timelines.items():
        first = 1 if incident_id in new else _next_position(conn, incident_timeline, incident_id)
        added += [
            TimelineItem(incident_id, first + k, time_s, kind, party_id, payload)
            for k, (time_s, kind, party_id, payload) in enumerate(items)
        ]
    if added:
        conn.execute(
            incident_timeline.insert(),
            [
                {
                    "incident_id": item.incident_id,
                    "position": item.position,
                    "time_s": item.time_s,
                    "kind": item.kind,
                    "party_id": item.party_id,
                    "payload": json.dumps(item.payload, sort_keys=True),
                }
                for item in added
            ],
        )
    return added


def list_timeline(conn: Connection, incident_id: str) -> list[TimelineItem]:
    """The timeline of an incident by time, then by the order of arrival."""
    rows = conn.execute(
        sa.select(incident_timeline)
        .where(incident_timeline.c.incident_id == incident_id)
        .order_by(incident_timeline.c.time_s, incident_timeline.c.position)
    )
    return [TimelineItem(r.incident_id, r.position, r.time_s, r.kind, r.party_id, json.loads(r.payload)) for r in rows]


def timeline_length(conn: Connection, incident_id: str) -> int:
    """How many items the incident's timeline holds (counted on the key: no payload is read)."""
    query = sa.select(sa.func.count()).where(incident_timeline.c.incident_id == incident_id)
    return int(conn.execute(query).scalar_one())


def timeline_page(
    conn: Connection, incident_id: str, after: tuple[float, int] | None, limit: int
) -> list[TimelineItem]:
    """Up to ``limit`` items of the incident's timeline in ``list_timeline``'s order (time, then
    arrival), after the item ``after`` (its time and position; None: from the first); one range of
    ``ix_incident_timeline_order``."""
    c = incident_timeline.c
    query = sa.select(incident_timeline).where(c.incident_id == incident_id)
    if after is not None:
        time_s, position = after
        # The first condition alone bounds the range; the second skips the items at the cursor's
        # time up to and including the cursor's.
        query = query.where(c.time_s >= time_s, sa.or_(c.time_s > time_s, c.position > position))
    rows = conn.execute(query.order_by(c.time_s, c.position).limit(limit))
    return [TimelineItem(r.incident_id, r.position, r.time_s, r.kind, r.party_id, json.loads(r.payload)) for r in rows]
