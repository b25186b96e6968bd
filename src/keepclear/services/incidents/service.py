"""Incidents: opened from events (``incident_trigger``) or reported by a party; evidence, accounts, review.

The service subscribes to the bus (``on_event``): an event that ``incident_trigger`` recognises opens
an incident (or joins the open one for the same alert, or the same units and zone within
``merge_window_s``); later events naming a linked ``alert_id`` or an ``incident_id`` (alert changes,
hotline messages, escalations) go onto the incident's timeline. Once ``evidence_window_s`` has passed
after the incident time, ``freeze_due`` freezes the evidence — the involved units' tracks for
± ``evidence_window_s`` from the track-history provider, the alert history and the related messages —
as canonical JSON with its SHA-256, and emits ``incident.evidence_frozen`` carrying the hash, so the
ledger holds the evidence by hash (the document: ``evidence``). Every change emits an
``incident.*`` event the ledger records. The open incidents a batch of events may join are indexed
by ``open_index``.
"""

from __future__ import annotations

import builtins
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import INCIDENT_KINDS, EventKind
from keepclear.domain.events import Clock, Event, EventSink
from keepclear.domain.ids import RandomBits, random_id
from keepclear.domain.incidents import (
    EVIDENCE_WINDOW_S,
    Account,
    Incident,
    IncidentKind,
    ReviewStatus,
    TimelineItem,
    Trigger,
    incident_trigger,
    party_review_step,
)
from keepclear.domain.tracks import TrackReport
from keepclear.errors import ConflictError, NotFoundError, ValidationError
from keepclear.ledger import Ledger
from keepclear.ledger.canonical import sha256_hex
from keepclear.services.incidents.evidence import checked_evidence, document_text, history, window_tracks
from keepclear.services.incidents.open_index import concerned
from keepclear.services.policy import party_involved, sees_party_data_of, unknown
from keepclear.services.quota import Quota
from keepclear.services.record.staging import stage
from keepclear.store import incidents as store
from keepclear.store.database import Database

#: ``tracks_for(unit_ids, start_s, end_s)``: every stored report of those units in ``[start_s, end_s]``.
TracksFor = Callable[[Sequence[str], float, float], list[TrackReport]]

MAX_ACCOUNT_CHARS = 20_000


class NotInvolvedError(NotFoundError):
    """A party named an incident it is not involved in: for it, the incident does not exist.

    Raised with ``policy.unknown``'s text, so the answer reads exactly like a made-up id's (need to know).
    """


@dataclass(frozen=True, slots=True)
class IncidentConfig:
    """Tunables of incidents.

    ``evidence_window_s``: tracks are kept this long before and after the incident time (default 600 s).
    ``merge_window_s``: an automatic trigger for the same units and zone this close in time to an open
    incident joins it instead of opening another (default 600 s).
    ``freeze_batch``: the most incidents one ``freeze_due`` freezes, oldest first (default 100): the
    chores thread that runs it runs the deadlines too, and a storm of incidents (or a party reporting
    thousands) falling due together must not hold it; the rest wait for the next rounds.
    ``max_accounts_per_party``: the accounts and amendments one party may add to one incident (default
    50): each is shown whole to every involved party on every read (``max_incident_accounts_per_party``).
    ``view_max_timeline_items``: the timeline items an incident's view and report show, the earliest
    first (default 500); the rest are paged (``incident_view_max_timeline_items``).
    ``max_age_days``: a reported incident may be at most this many days in the past (default 366;
    ``incident_max_age_days``): a time further back is a typing error (the year 1), not an incident.
    """

    evidence_window_s: float = EVIDENCE_WINDOW_S
    merge_window_s: float = 600.0
    freeze_batch: int = 100
    max_accounts_per_party: int = 50
    view_max_timeline_items: int = 500
    max_age_days: float = 366.0


class IncidentService:
    """Incidents of one deployment (see the module docstring).

    Wiring: subscribe ``on_event`` to the bus, and call ``freeze_due()`` from a periodic tick (e.g.
    every 10 s) so evidence is frozen when its window ends even when no event arrives then.
    """

    def __init__(
        self,
        db: Database,
        clock: Clock,
        events: EventSink,
        tracks_for: TracksFor | None,
        config: IncidentConfig | None = None,
        *,
        ledger: Ledger | None = None,
        random_bits: RandomBits = secrets.randbits,
    ) -> None:
        """``random_bits`` draws the incident ids (``domain.ids``; a replay passes a seeded one)."""
        self._db = db
        self._random_bits = random_bits
        self._ledger = ledger
        self._clock = clock
        self._events = events
        self._tracks_for = tracks_for
        self._config = config or IncidentConfig()
        self._accounts_quota = Quota(self._config.max_accounts_per_party)

    @property
    def accounts_refused_limit_total(self) -> int:
        """Accounts refused for their party's bound in the incident (``incident_accounts_refused_limit_total``)."""
        return self._accounts_quota.refused_total

    # -- from the bus ----------------------------------------------------------------------
    def on_event(self, event: Event) -> None:
        """Bus subscriber: open incidents from triggers, link related events (evidence is frozen by
        ``freeze_due``, which the service runs on its tick)."""
        self.on_events((event,))

    def on_events(self, events: Sequence[Event]) -> None:
        """Bus subscriber for batches: ``on_event`` for each event, with one read of the open
        incidents and one transaction for the whole batch (a probe tick's alert changes)."""
        relevant: list[tuple[Event, Trigger | None]] = []
        for event in events:
            if event.kind in INCIDENT_KINDS:
                continue
            trigger = incident_trigger(event)
            if trigger is not None or "alert_id" in event.payload or "incident_id" in event.payload:
                relevant.append((event, trigger))  # the bulk of the bus traffic needs no database work
        if relevant and not any(trigger for _, trigger in relevant):
            with self._db.read() as conn:
                index = concerned(conn, relevant, self._config.merge_window_s)
            if not any(index.related(event) for event, _ in relevant):
                relevant = []  # alert changes of no incident: keep the writer free
        opened: list[Incident] = []
        if relevant:
            with self._db.write() as conn:
                index = concerned(conn, relevant, self._config.merge_window_s)
                timelines: dict[str, list[tuple[float, str, str | None, dict[str, Any]]]] = {}
                new_ids: dict[str, None] = {}  # opened in this batch: written once, at the end, as they became
                for event, trigger in relevant:
                    linked = index.related(event)
                    if trigger is not None:
                        same = index.same(trigger, self._config.merge_window_s)
                        if not same:
                            incident = self._new(trigger, reported_by=None)
                            index.add(incident)
                            new_ids[incident.id] = None
                            linked.append(incident)
                        elif trigger.alert_id:
                            for incident in same:
                                if trigger.alert_id not in incident.alert_ids:
                                    if incident.id not in new_ids:
                                        store.add_alert_id(conn, incident, trigger.alert_id)
                                    index.link_alert(incident, trigger.alert_id)
                                    if all(i.id != incident.id for i in linked):
                                        linked.append(incident)
                    for incident in linked:
                        item = (event.time_s, event.kind, event.party_id, dict(event.payload))
                        timelines.setdefault(incident.id, []).append(item)
                opened = [index.get(incident_id) for incident_id in new_ids]
                store.insert_incidents(conn, opened)
                for incident_id in timelines:
                    if incident_id not in new_ids:
                        store.get_incident(conn, incident_id, lock=True)
                store.append_timelines(conn, timelines, new=new_ids)
                opened_events = [self._opened_event(incident) for incident in opened]
                stage(conn, opened_events)
            self._events.publish(opened_events)

    def _new(self, trigger: Trigger, reported_by: str | None) -> Incident:
        return Incident(
            id=random_id("inc", self._random_bits),
            kind=trigger.kind,
            status=ReviewStatus.OPEN,
            time_s=trigger.time_s,
            opened_s=self._clock.now_s(),
            reported_by=reported_by,
            parties=trigger.parties,
            unit_ids=trigger.unit_ids,
            alert_ids=(trigger.alert_id,) if trigger.alert_id else (),
            zone_id=trigger.zone_id,
            zone_kind=trigger.zone_kind,
            summary=trigger.summary,
        )

    def _event(self, kind: EventKind, incident: Incident, party_id: str | None, payload: dict[str, Any]) -> Event:
        return Event(
            kind=kind,
            time_s=self._clock.now_s(),
            party_id=party_id,
            payload={"incident_id": incident.id, **payload},
            parties=frozenset(incident.parties),
        )

    def _opened_event(self, incident: Incident) -> Event:
        return self._event(
            EventKind.INCIDENT_OPENED,
            incident,
            incident.reported_by,
            {
                "kind": incident.kind.value,
                "time_s": incident.time_s,
                "parties": list(incident.parties),
                "unit_ids": list(incident.unit_ids),
                "alert_ids": list(incident.alert_ids),
                "zone_id": incident.zone_id,
                "zone_kind": incident.zone_kind,
                "summary": incident.summary,
                "reported_by": incident.reported_by,
            },
        )

    def report(
        self,
        party_id: str,
        *,
        time_s: float,
        summary: str,
        unit_ids: Sequence[str] = (),
        parties: Sequence[str] = (),
        alert_ids: Sequence[str] = (),
        message_ids: Sequence[str] = (),
        zone_id: str | None = None,
    ) -> Incident:
        """Open an incident ``party_id`` reports (it is always one of the involved parties)."""
        problems = []
        if not summary.strip():
            problems.append("summary: must not be empty")
        now_s = self._clock.now_s()
        if time_s > now_s + 60.0:
            problems.append("time: an incident cannot be reported before it happened")
        elif time_s < now_s - self._config.max_age_days * 86_400.0:
            problems.append(
                f"time: more than {self._config.max_age_days:g} days in the past (setting incident_max_age_days)"
            )
        if problems:
            raise ValidationError(problems)
        trigger = Trigger(
            IncidentKind.REPORTED,
            time_s,
            tuple(sorted(set(unit_ids))),
            tuple(sorted({party_id, *parties})),
            None,
            zone_id,
            None,
            summary.strip(),
        )
        incident = self._new(trigger, reported_by=party_id)
        incident = replace(incident, alert_ids=tuple(sorted(set(alert_ids))))
        with self._db.write() as conn:
            store.insert_incident(conn, incident)
            for message_id in sorted(set(message_ids)):
                store.append_timeline(
                    conn, incident.id, time_s, EventKind.MESSAGE_REFERENCED, party_id, {"message_id": message_id}
                )
            opened_event = self._opened_event(incident)
            stage(conn, [opened_event])
        self._events.emit(opened_event)
        if time_s <= self._clock.now_s() - self._config.evidence_window_s:
            self._freeze(incident, self._clock.now_s())  # its window has passed: its own, not the others' due
        return self.get(incident.id)

    def add_account(self, incident_id: str, party_id: str, text: str, *, amends: int | None = None) -> Account:
        """Append ``party_id``'s account (or an amendment of one of its own); nothing is ever overwritten."""
        if not text.strip():
            raise ValidationError(["text: must not be empty"])
        if len(text) > MAX_ACCOUNT_CHARS:
            raise ValidationError([f"text: {len(text)} characters, more than {MAX_ACCOUNT_CHARS}"])
        now_s = self._clock.now_s()
        with self._db.write() as conn:
            incident = store.get_incident(conn, incident_id, lock=True)
            if not party_involved(party_id, incident.parties):
                raise NotInvolvedError(unknown("incident", incident_id))
            self._require_room(conn, incident_id, party_id)
            if amends is not None:
                own = {
                    a.position
                    for a in store.list_accounts(conn, incident_id)
                    if sees_party_data_of(party_id, a.party_id)
                }
                if amends not in own:
                    raise ValidationError([f"amends: #{amends} is not an account of party {party_id} in this incident"])
            account = store.append_account(conn, incident_id, party_id, now_s, text, amends)
            store.append_timeline(
                conn,
                incident_id,
                now_s,
                EventKind.INCIDENT_ACCOUNT_ADDED,
                party_id,
                {"position": account.position, "amends": amends},
            )
            event = self._event(
                EventKind.INCIDENT_ACCOUNT_ADDED,
                incident,
                party_id,
                {
                    "position": account.position,
                    "amends": amends,
                    "text": text,
                    "text_sha256": sha256_hex(text.encode()),
                },
            )
            stage(conn, [event])
        self._events.emit(event)
        return account

    def _require_room(self, conn: Connection, incident_id: str, party_id: str) -> None:
        """``ConflictError`` (409) when ``party_id`` wrote ``max_accounts_per_party`` accounts and
        amendments in the incident already, counted in ``conn``'s transaction with the incident's row
        locked: two requests (or processes) adding its last one at once cannot both pass."""
        written = store.accounts_written(conn, incident_id, party_id)
        quota = self._accounts_quota
        if not quota.allows(written):
            raise quota.refused(
                f"party {party_id} has written {written} accounts and amendments in incident {incident_id},"
                f" the most one party may write in one incident (max_incident_accounts_per_party: {quota.most})"
            )

    def set_review(self, incident_id: str, status: ReviewStatus, *, by_party: str | None, note: str = "") -> Incident:
        """A step of the joint review (a closed review stays closed). An involved party's ``status`` is
        its own stance, and the review moves as ``domain.incidents.party_review_step`` says: agreed
        once every involved party agrees, closed only then (``ConflictError`` naming whom it waits for).
        ``by_party`` None = the operator, whose step sets the status as given."""
        now_s = self._clock.now_s()
        with self._db.write() as conn:
            incident = store.get_incident(conn, incident_id, lock=True)
            if by_party is not None and not party_involved(by_party, incident.parties):
                raise NotInvolvedError(unknown("incident", incident_id))
            if incident.status is ReviewStatus.CLOSED:
                raise ConflictError(f"incident {incident_id}: review is closed")
            if by_party is None:
                store.set_status(conn, incident_id, status)
                now = status
            else:
                stand = party_review_step(incident, by_party, status)
                if isinstance(stand, str):
                    raise ConflictError(stand)
                store.set_review(conn, incident_id, stand)
                now = stand.status
            store.append_timeline(
                conn,
                incident_id,
                now_s,
                EventKind.INCIDENT_REVIEW_CHANGED,
                by_party,
                {"status": now.value, "stance": status.value, "note": note},
            )
            event = self._event(
                EventKind.INCIDENT_REVIEW_CHANGED,
                incident,
                by_party,
                {"from": incident.status.value, "status": now.value, "stance": status.value, "note": note},
            )
            stage(conn, [event])
        self._events.emit(event)
        return self.get(incident_id)

    # -- evidence --------------------------------------------------------------------------
    def freeze_due(self, now_s: float | None = None) -> list[str]:
        """Freeze the evidence of the incidents whose window has passed, at most ``freeze_batch`` of
        them, oldest first (the next call takes the next ones); returns their ids.

        Without a track-history provider (``tracks_for`` None, e.g. the CLI) nothing is frozen: the
        evidence waits for a process that has the track history rather than being frozen empty.
        """
        if self._tracks_for is None:
            return []
        now = self._clock.now_s() if now_s is None else now_s
        with self._db.read() as conn:
            due = store.unfrozen_incidents(
                conn, happened_before_s=now - self._config.evidence_window_s, limit=self._config.freeze_batch
            )
        return [incident.id for incident in due if self._freeze(incident, now)]

    def _freeze(self, incident: Incident, now: float) -> bool:
        """Freeze ``incident``'s evidence in a transaction of its own; False when it was frozen already
        (or there is no track history to freeze it with)."""
        if self._tracks_for is None:
            return False
        window_s = self._config.evidence_window_s
        start_s, end_s = incident.time_s - window_s, incident.time_s + window_s
        provided = self._tracks_for(list(incident.unit_ids), start_s, end_s) if incident.unit_ids else []
        tracks = window_tracks(incident, provided, start_s, end_s)
        # The record's alert and message entries of the window (everyone's traffic: thousands) are read
        # before the write, which on SQLite holds the one writer; read again in it only when the
        # incident's timeline changed meanwhile.
        with self._db.read() as conn:
            timeline = store.list_timeline(conn, incident.id)
        alerts, messages = history(incident, timeline, self._ledger, start_s, end_s)
        with self._db.write() as conn:
            current = store.get_incident(conn, incident.id, lock=True)
            if current.evidence_sha256 is not None:
                return False
            now_timeline = store.list_timeline(conn, incident.id)
            if now_timeline != timeline:
                alerts, messages = history(incident, now_timeline, self._ledger, start_s, end_s)
            text, digest = document_text(incident, tracks, alerts, messages, start_s, end_s)
            store.freeze_evidence(conn, incident.id, digest, text, now)
            event = self._event(
                EventKind.INCIDENT_EVIDENCE_FROZEN,
                incident,
                None,
                {"evidence_sha256": digest, "tracks": len(tracks), "window_s": window_s},
            )
            stage(conn, [event])
        self._events.emit(event)
        return True

    def evidence(self, incident_id: str) -> dict[str, Any] | None:
        """The frozen evidence document, checked against its stored hash; None before freezing."""
        with self._db.read() as conn:
            store.get_incident(conn, incident_id)
            found = store.get_evidence(conn, incident_id)
        if found is None:
            return None
        digest, text = found
        return checked_evidence(incident_id, digest, text)

    # -- reading ---------------------------------------------------------------------------
    def get(self, incident_id: str) -> Incident:
        """One incident."""
        with self._db.read() as conn:
            return store.get_incident(conn, incident_id)

    def list(
        self, *, party_id: str | None = None, from_s: float | None = None, until_s: float | None = None
    ) -> builtins.list[Incident]:
        """Incidents by time; with ``party_id`` only those it is involved in (need to know)."""
        with self._db.read() as conn:
            return store.list_incidents(conn, party_id=party_id, from_s=from_s, until_s=until_s)

    def page(
        self, party_id: str | None, after: tuple[float, str] | None, limit: int
    ) -> tuple[builtins.list[Incident], bool]:
        """Up to ``limit`` incidents by time after ``after`` (time, id), those ``party_id`` is
        involved in (None: all), and whether a next page may hold more; one statement."""
        with self._db.read() as conn:
            found = store.incidents_page(conn, party_id, after, limit + 1)
        return found[:limit], len(found) > limit

    def accounts(self, incident_id: str) -> builtins.list[Account]:
        """Every account and amendment, in the order written."""
        with self._db.read() as conn:
            store.get_incident(conn, incident_id)
            return store.list_accounts(conn, incident_id)

    def timeline(self, incident_id: str) -> builtins.list[TimelineItem]:
        """Alert changes, messages, accounts and review steps around the incident, by time: every one
        (the CLI and tests; a request reads ``timeline_view`` or ``timeline_page``)."""
        with self._db.read() as conn:
            store.get_incident(conn, incident_id)
            return store.list_timeline(conn, incident_id)

    def timeline_view(self, incident_id: str) -> tuple[builtins.list[TimelineItem], int]:
        """The earliest ``view_max_timeline_items`` items of the timeline, by time, and how many it
        holds in all (counted, not read): others' alert changes, messages and accounts make it grow
        without bound over a long encounter."""
        with self._db.read() as conn:
            store.get_incident(conn, incident_id)
            items = store.timeline_page(conn, incident_id, None, self._config.view_max_timeline_items)
            return items, store.timeline_length(conn, incident_id)

    def timeline_page(
        self, incident_id: str, after: tuple[float, int] | None, limit: int
    ) -> tuple[builtins.list[TimelineItem], bool]:
        """Up to ``limit`` timeline items by time after ``after`` (time, position), and whether a next
        page may hold more; one statement."""
        with self._db.read() as conn:
            store.get_incident(conn, incident_id)
            found = store.timeline_page(conn, incident_id, after, limit + 1)
        return found[:limit], len(found) > limit
