"""Need to know, in one place: what each role of each party may do, see and name.

This module implements the table of ``docs/need-to-know.md`` and nothing else decides visibility.
Every API endpoint names one ``Action`` and calls ``require``; every response that carries another
party's data passes through one of the predicates or view functions here. A party sees its own data
in full, and of the others only what a notification addressed to it, an alert involving its own
units, or an intruder in a zone it is permitted in gives it. An object a caller may not see answers
exactly as one that does not exist (``unknown``), and a request may name only objects its caller may
see (``reference_problems``).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.identity import Principal, Role
from keepclear.domain.zones import ZoneRules
from keepclear.errors import ForbiddenError
from keepclear.ledger.spec import payload_readable


class Action(enum.StrEnum):
    """Everything the API lets a caller do."""

    HEALTH = "health"
    WHOAMI = "whoami"
    METRICS_READ = "metrics.read"
    PARTIES_READ = "parties.read"
    PARTIES_WRITE = "parties.write"
    FORCES_READ = "forces.read"
    FORCES_WRITE = "forces.write"
    UNITS_READ = "units.read"
    UNITS_WRITE = "units.write"
    ZONES_READ = "zones.read"
    ZONES_WRITE = "zones.write"
    ZONES_PROPOSE = "zones.propose"
    ZONE_PROPOSALS_READ = "zones.proposals.read"
    KEYS_MANAGE = "keys.manage"
    TRACKS_INGEST = "tracks.ingest"
    TRACKS_READ = "tracks.read"
    ALERTS_READ = "alerts.read"
    ALERTS_ACKNOWLEDGE = "alerts.acknowledge"
    ACTIVITIES_READ = "activities.read"
    ACTIVITIES_NOTIFY = "activities.notify"
    ACTIVITIES_RESPOND = "activities.respond"
    THREADS_READ = "threads.read"
    THREADS_WRITE = "threads.write"
    MESSAGES_POST = "messages.post"
    AVAILABILITY_SET = "availability.set"
    STREAM_READ = "stream.read"
    RECORD_READ = "record.read"
    INCIDENTS_WRITE = "incidents.write"
    RECORD_WITNESS = "record.witness"


_READERS = frozenset({Role.LIAISON, Role.OBSERVER})
_ALL = frozenset(Role)

#: Which roles may take each action at all; need-to-know then narrows what they see.
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.HEALTH: _ALL,
    Action.WHOAMI: _ALL,
    Action.METRICS_READ: frozenset({Role.ADMIN}),
    Action.PARTIES_READ: _ALL,
    Action.PARTIES_WRITE: frozenset({Role.ADMIN}),
    Action.FORCES_READ: frozenset({Role.ADMIN, *_READERS}),
    Action.FORCES_WRITE: frozenset({Role.ADMIN}),
    Action.UNITS_READ: frozenset({Role.ADMIN, Role.FEED, *_READERS}),
    Action.UNITS_WRITE: frozenset({Role.ADMIN}),
    Action.ZONES_READ: frozenset({Role.ADMIN, *_READERS}),
    Action.ZONES_WRITE: frozenset({Role.ADMIN}),
    Action.ZONES_PROPOSE: frozenset({Role.FEED, Role.LIAISON}),
    # the admin every party's; a party's keys its own (proposal_visible)
    Action.ZONE_PROPOSALS_READ: frozenset({Role.ADMIN, Role.FEED, *_READERS}),
    Action.KEYS_MANAGE: frozenset({Role.ADMIN}),
    Action.TRACKS_INGEST: frozenset({Role.FEED}),
    Action.TRACKS_READ: _READERS,
    Action.ALERTS_READ: _READERS,
    Action.ALERTS_ACKNOWLEDGE: frozenset({Role.LIAISON}),
    Action.ACTIVITIES_READ: _READERS,
    Action.ACTIVITIES_NOTIFY: frozenset({Role.LIAISON}),
    Action.ACTIVITIES_RESPOND: frozenset({Role.LIAISON}),
    Action.THREADS_READ: _READERS,
    Action.THREADS_WRITE: frozenset({Role.LIAISON}),
    Action.MESSAGES_POST: frozenset({Role.LIAISON}),
    Action.AVAILABILITY_SET: frozenset({Role.LIAISON}),
    Action.STREAM_READ: _READERS,
    Action.RECORD_READ: frozenset({Role.ADMIN, *_READERS}),
    Action.INCIDENTS_WRITE: frozenset({Role.LIAISON}),
    Action.RECORD_WITNESS: frozenset({Role.LIAISON}),
}


def require(principal: Principal, action: Action) -> None:
    """Raise ``ForbiddenError`` unless ``principal``'s role may take ``action``."""
    if principal.role not in ALLOWED[action]:
        raise ForbiddenError(f"a {principal.role.value} key may not {action.value}")


def may(principal: Principal, action: Action) -> bool:
    """Whether ``principal``'s role may take ``action`` (``require`` without the error)."""
    return principal.role in ALLOWED[action]


def sees_party_data(principal: Principal, owner_party_id: str) -> bool:
    """True when ``principal`` sees ``owner_party_id``'s own data in full (its own party only)."""
    return principal.party_id is not None and sees_party_data_of(principal.party_id, owner_party_id)


def sees_party_data_of(party_id: str, owner_party_id: str) -> bool:
    """True when ``party_id`` sees ``owner_party_id``'s data in full: its own, and nobody else's."""
    return party_id == owner_party_id


def event_visible(principal: Principal, event: Event) -> bool:
    """True when the live stream may carry ``event`` to ``principal``: it concerns the caller's party."""
    if principal.role not in _READERS or principal.party_id is None:
        return False
    return principal.party_id in event.parties


def revokes(event: Event, key_id: str | None) -> bool:
    """True when ``event`` revokes the key ``key_id``: what was opened with it (a stream, a hotline
    socket) ends at once, as its next request would be refused."""
    return key_id is not None and event.kind == EventKind.APIKEY_REVOKED and event.payload.get("key_id") == key_id


def event_view(principal: Principal, event: Event) -> dict[str, object] | None:
    """What the live stream shows ``principal`` of ``event``, or None when it concerns another party:
    a reader (liaison, observer) sees what its party is shown (``party_event_view``)."""
    if not event_visible(principal, event) or principal.party_id is None:
        return None
    return party_event_view(principal.party_id, event)


def party_event_view(party_id: str, event: Event) -> dict[str, object] | None:
    """What the live stream shows the readers of ``party_id`` of ``event``, or None when it concerns
    another party. The same for every reader of the party, so the stream keeps it once per party.

    Events carry per-party views under ``payload["views"][party_id]`` when parties see them
    differently (an activity's addressees versus its notifier); otherwise the payload is the view.
    """
    if party_id not in event.parties:
        return None
    views = event.payload.get("views")
    if isinstance(views, dict):
        own = views.get(party_id)
        return None if own is None else {"payload": own}
    return {"payload": event.payload}


# -- objects: what a party may see of another party's ---------------------------------------------


def unknown(kind: str, ident: str) -> str:
    """The one answer for an object the caller may not see and for one that does not exist.

    Both must read exactly alike (status, problem type and text), or ids could be enumerated.
    """
    return f"unknown {kind} {ident!r}"


def sees_all(principal: Principal) -> bool:
    """True for the deployment's administrator, who reads the whole registry, record and incidents."""
    return principal.role is Role.ADMIN


def alert_visible(party_id: str, party_a: str, party_b: str) -> bool:
    """An alert is seen (both units' states, the predicted approach) by its two parties only."""
    return party_id in (party_a, party_b)


def zone_witnesses(rules: ZoneRules, owner_party_id: str) -> frozenset[str]:
    """Who sees a unit of ``owner_party_id`` inside a zone with ``rules``: its own party, and the
    zone's permitted parties while it is an intruder (from entry until it leaves); nobody else."""
    return rules.witnesses(owner_party_id)


def unit_state_visible(party_id: str, owner_party_id: str, *, in_own_alert: bool, intruder_for: Iterable[str]) -> bool:
    """A unit's live state: its own party always; another party only while an alert involves the
    unit with one of its own units (``in_own_alert``), or while the unit is inside a zone that
    ``party_id`` is permitted in and its owner is not (``intruder_for``: the witnesses of its zones)."""
    return owner_party_id == party_id or in_own_alert or party_id in intruder_for


def activity_addressed(party_id: str, notifier_party_id: str, draft: bool, addressees: Collection[str]) -> bool:
    """An activity is seen by its notifier in full and, once notified, by its addressees (their view:
    ``activity_views.addressee_view``); any other party sees at most the overlap of a conflict with
    one of its own activities (``activity_views.conflict_view``), and it answers to it as unknown."""
    return party_id == notifier_party_id or (not draft and party_id in addressees)


def incident_visible(principal: Principal, parties: Collection[str]) -> bool:
    """An incident (its accounts, timeline, evidence and report) is seen by its involved parties."""
    return sees_all(principal) or (principal.party_id is not None and party_involved(principal.party_id, parties))


def proposal_visible(principal: Principal, proposer_party_id: str) -> bool:
    """A zone proposal is seen in full by its proposing party (any of its keys: its own data) and by
    the admin who decides it; never by another party, to which it answers as unknown."""
    return sees_all(principal) or sees_party_data(principal, proposer_party_id)


def proposals_scope(principal: Principal) -> str | None:
    """Whose zone proposals ``principal`` lists: every party's for the admin (None), else its own party's."""
    return None if sees_all(principal) else principal.party_id or ""


def party_involved(party_id: str, parties: Collection[str]) -> bool:
    """Is ``party_id`` one of an incident's involved parties (who read it and write accounts)?"""
    return party_id in parties


def thread_visible(party_id: str, members: Collection[str]) -> bool:
    """A hotline thread and its messages are seen by its member parties only."""
    return party_id in members


def message_audience(thread_parties: Collection[str]) -> list[str]:
    """Who may read what a hotline message said in the record: the thread's members (the entry's
    audience); every other party's export holds a placeholder for it (its seq and entry hash only)."""
    return sorted(thread_parties)


#: May a party (None: the operator) read a ledger entry (statement and payload)? Only when the entry's
#: audience names it (or nobody: everyone), or for the key entries every verifier needs; never because
#: it signed. Any other entry is a placeholder in its export.
entry_readable = payload_readable


# -- naming: a request may reference only what its caller may see --------------------------------


def reference_problems(field: str, kind: str, named: Sequence[str], nameable: Collection[str]) -> list[str]:
    """One problem per id of ``named`` the caller may not name: another party's object and a
    made-up one get the same words (``unknown``), so a refusal tells nothing about the others."""
    return [f"{field}[{i}]: {unknown(kind, ident)}" for i, ident in enumerate(named) if ident not in nameable]


def nameable_alerts(party_id: str, alerts: Iterable[dict[str, Any]]) -> frozenset[str]:
    """The alerts ``party_id`` may reference: those it may see."""
    return frozenset(a["alert_id"] for a in alerts if alert_visible(party_id, a["party_a"], a["party_b"]))


def nameable_units(
    party_id: str, own: Iterable[str], alerts: Iterable[dict[str, Any]], visible_now: Iterable[str]
) -> frozenset[str]:
    """The units ``party_id`` may reference: its own, those of alerts it may see, and another
    party's units it sees right now (an intruder in a zone it is permitted in)."""
    seen = {
        u for a in alerts if alert_visible(party_id, a["party_a"], a["party_b"]) for u in (a["unit_a"], a["unit_b"])
    }
    return frozenset({*own, *seen, *visible_now})


def intruder_audience(party_id: str, owner_party_id: str, zones_inside: Iterable[ZoneRules]) -> frozenset[str]:
    """Who ``party_id`` knows sees another party's unit as an intruder: the witnesses of each zone the
    unit is inside that ``party_id`` itself witnesses it in (zone rules are shared, and it was shown
    the entry); empty for its own unit or one it does not witness. Zones it does not witness are
    left out: whether the unit counts as inside them is not its to know."""
    if party_id == owner_party_id:
        return frozenset()
    out: set[str] = set()
    for rules in zones_inside:
        witnesses = zone_witnesses(rules, owner_party_id)
        if party_id in witnesses:
            out |= witnesses
    return frozenset(out)


@dataclass(frozen=True)
class Sight:
    """What one party may name now (its own units, all units it may name, alerts, and the last
    message of each of its threads), and who it knows may see each of them: the two parties of an
    alert; the members of a thread; of another party's unit, its own party, the parties of the
    alerts it is in, and the witnesses of the zones it is an intruder in (``shows``)."""

    own: frozenset[str]
    units: frozenset[str]
    alerts: frozenset[str]
    last_seqs: dict[str, int]
    unit_audiences: Mapping[str, frozenset[str]]
    alert_parties: Mapping[str, frozenset[str]]
    thread_members: Mapping[str, frozenset[str]]
    #: When it was shown each of another party's units it may name: the spans of its alerts with
    #: the unit (raised until resolved, or now), and now for a unit it sees now (an intruder).
    shown_s: Mapping[str, tuple[tuple[float, float], ...]] = field(default_factory=dict)

    def problems(self, named: Mapping[str, Sequence[str]]) -> list[str]:
        """``reference_problems`` of ``named`` (``unit``, ``alert``, ``message`` ids) for this party."""
        messages = [m for m in named.get("message", ()) if nameable_message(m, self.last_seqs)]
        return [
            *reference_problems("unit_ids", "unit", named.get("unit", ()), self.units),
            *reference_problems("alert_ids", "alert", named.get("alert", ()), self.alerts),
            *reference_problems("message_ids", "message", named.get("message", ()), messages),
        ]

    def unshown_at(self, unit_ids: Sequence[str], time_s: float, window_s: float) -> list[str]:
        """One problem per unit of ``unit_ids`` of another party that this party was not shown within
        ``window_s`` of ``time_s``: a report's time sets its evidence window (tracks ± ``window_s``),
        and it must not reach back (or ahead) for another party's tracks of a time this party was not
        shown them. Its own units, and ids it may not name at all (``problems``), are not judged here."""
        return [
            f"unit_ids[{i}]: another party's unit {ident!r} may be named only within {window_s:g} s "
            "(incident_evidence_window_s) of a time this party was shown it"
            for i, ident in enumerate(unit_ids)
            if ident in self.units
            and ident not in self.own
            and not any(start - window_s <= time_s <= end + window_s for start, end in self.shown_s.get(ident, ()))
        ]

    def shows(self, party_id: str, kind: str, ident: str) -> bool:
        """May this party show ``party_id`` the ``kind`` (``unit``, ``alert``, ``message``) ``ident``
        it may name? Only where it knows from its own sight that ``party_id`` may see it: its own
        units to anyone (they are its to share); anything else by the audiences above."""
        if kind == "unit":
            return ident in self.own or party_id in self.unit_audiences.get(ident, ())
        if kind == "alert":
            return party_id in self.alert_parties.get(ident, ())
        return party_id in self.thread_members.get(ident.rpartition("#")[0], ())


def party_sight(
    party_id: str,
    own: Iterable[str],
    alerts: Sequence[dict[str, Any]],
    visible_now: Mapping[str, str],
    intruders: Mapping[str, frozenset[str]],
    threads: Iterable[tuple[str, Collection[str], int]],
    now_s: float = 0.0,
) -> Sight:
    """``party_id``'s ``Sight`` from what it sees: its own units, the alerts it may see (``alert_id``,
    ``party_a``, ``party_b``, ``unit_a``, ``unit_b``), the units it sees now (id -> their party),
    ``intruder_audience`` of the intruders it sees, and its threads as ``(id, member parties, last seq)``;
    ``now_s``: the time it sees them at (an active alert's span ends then)."""
    own = frozenset(own)
    seen = [a for a in alerts if alert_visible(party_id, a["party_a"], a["party_b"])]
    audiences: dict[str, set[str]] = {unit: {owner} for unit, owner in visible_now.items()}
    for unit, parties in intruders.items():
        audiences.setdefault(unit, set()).update(parties)
    for a in seen:
        for unit in (a["unit_a"], a["unit_b"]):
            audiences.setdefault(unit, set()).update((a["party_a"], a["party_b"]))
    shown: dict[str, list[tuple[float, float]]] = {unit: [(now_s, now_s)] for unit in visible_now if unit not in own}
    for a in seen:
        start_s = float(a.get("raised_s", now_s))
        end_s = float(a.get("time_s", now_s)) if a.get("status") == "resolved" else now_s
        for unit in (a["unit_a"], a["unit_b"]):
            if unit not in own:
                shown.setdefault(unit, []).append((start_s, end_s))
    threads = list(threads)
    return Sight(
        own=own,
        units=nameable_units(party_id, own, seen, visible_now),
        alerts=nameable_alerts(party_id, seen),
        last_seqs={thread_id: last for thread_id, _, last in threads},
        unit_audiences={unit: frozenset(parties) for unit, parties in audiences.items()},
        alert_parties={a["alert_id"]: frozenset((a["party_a"], a["party_b"])) for a in seen},
        thread_members={thread_id: frozenset(members) for thread_id, members, _ in threads},
        shown_s={unit: tuple(spans) for unit, spans in shown.items()},
    )


def involvement_problems(
    reporter: str, parties: Sequence[str], named: Mapping[str, Sequence[str]], reporter_sight: Sight
) -> list[str]:
    """A reported incident shows everyone involved what it names, so the reporter may involve a party
    of ``parties`` only where ``reporter_sight`` shows that party may see every unit, alert and
    message in ``named`` (``Sight.shows``). Decided from the reporter's sight alone, never the other
    party's, so the answer tells nothing about what that party sees (whether it had an alert with a
    unit, say); the words claim nothing about it either. The price: a party that could see an item,
    where the reporter cannot know it, is refused too.

    Never more than the party's real sight (each case is a rule of that party's ``Sight``): an
    alert's two parties may name it; a thread's members may name its messages (the same thread, so
    the same last seq); a unit's own party may name it (its own, or in an alert it sees); the other
    party of an alert with the unit sees the alert and so may name its units; the witnesses of a zone
    the unit is an intruder in see it now (``unit_state_visible``), so may name it.
    """
    return [
        f"parties[{i}]: {party!r} may not be shown {kind} {ident!r} by this report"
        for i, party in enumerate(parties)
        if party != reporter
        for kind in ("unit", "alert", "message")
        for ident in named.get(kind, ())
        if not reporter_sight.shows(party, kind, ident)
    ]


def message_id(thread_id: str, seq: int) -> str:
    """How a request names one hotline message: ``THREAD_ID#SEQ``."""
    return f"{thread_id}#{seq}"


def nameable_message(ident: str, last_seq_of_own_threads: dict[str, int]) -> bool:
    """A message may be referenced by a member of its thread only (``THREAD_ID#SEQ``, seq in range,
    written as ``message_id`` writes it: ASCII digits without a leading zero; ``str.isdigit`` alone
    takes ``²`` and ``١``, which ``int`` refuses or reads, and ``int`` refuses 4,300 digits and more).

    >>> [nameable_message(i, {"t": 12}) for i in ("t#12", "t#13", "t#012", "t#²", "t#١", "t#" + "1" * 5000)]
    [True, False, False, False, False, False]
    """
    thread_id, _, seq = ident.rpartition("#")
    last = last_seq_of_own_threads.get(thread_id)
    if last is None or not (seq.isascii() and seq.isdigit()) or seq.startswith("0") or len(seq) > len(str(last)):
        return False
    return 1 <= int(seq) <= last


__all__ = [
    "ALLOWED",
    "Action",
    "Sight",
    "activity_addressed",
    "alert_visible",
    "entry_readable",
    "event_view",
    "event_visible",
    "incident_visible",
    "intruder_audience",
    "involvement_problems",
    "may",
    "message_audience",
    "message_id",
    "nameable_alerts",
    "nameable_message",
    "nameable_units",
    "party_event_view",
    "party_involved",
    "party_sight",
    "reference_problems",
    "require",
    "revokes",
    "sees_all",
    "sees_party_data",
    "sees_party_data_of",
    "thread_visible",
    "unit_state_visible",
    "unknown",
    "zone_witnesses",
]
