"""Typed, versioned payloads of the events another capability consumes.

Producers still build the plain ``payload`` dict (the record signs exactly those bytes, so its form
is frozen: docs/record.md); each class here says what that dict holds for its kinds, checks it
(``from_payload``, strict: no extra field, no missing field, no ``"1"`` for ``1``) and carries it
with its ``schema_version`` (``to_json``/``from_json``, for the bus between processes:
``keepclear.domain.event_wire``). A new field is a new ``SCHEMA_VERSION``; a reader refuses versions
it does not know rather than guess.

The base class, its strict checks and the serialised form: ``domain.event_payload_base``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payload_base import EventPayload


@dataclass(frozen=True, slots=True)
class Point(EventPayload):
    """A unit's position."""

    lat_deg: float
    lon_deg: float
    alt_m: float


@dataclass(frozen=True, slots=True)
class ClosestApproach(EventPayload):
    """The predicted closest approach of an alerted pair (``t_in_s``/``t_out_s``: loss of separation from/to)."""

    t_in_s: float
    t_out_s: float
    tcpa_s: float
    dcpa_m: float
    vsep_cpa_m: float
    los: bool
    #: Both units' positions at closest approach, by unit id.
    points: dict[str, Point]


@dataclass(frozen=True, slots=True)
class AlertState(EventPayload):
    """What every event of an alert says of it: the pair, their parties, the level, when it was raised."""

    alert_id: str
    unit_a: str
    unit_b: str
    party_a: str
    party_b: str
    #: ``advisory``, ``caution``, ``warning`` (``none`` once resolved).
    level: str
    level_number: int
    raised_s: float


@dataclass(frozen=True, slots=True)
class AlertChange(AlertState):
    """An alert raised, changed level or resolved (detect/alerts.py), with where the pair is."""

    KINDS = frozenset({EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED, EventKind.ALERT_RESOLVED})

    previous_level: str | None
    time_s: float
    #: Each unit still in the picture, now.
    positions: dict[str, Point]
    #: The closest approach ahead, when the pair is converging.
    cpa: ClosestApproach | None


@dataclass(frozen=True, slots=True)
class AlertAcknowledged(AlertState):
    """A party the alert concerns acknowledged it; ``acknowledged_by``: every party that has."""

    KINDS = frozenset({EventKind.ALERT_ACKNOWLEDGED})

    acknowledged_by: list[str]


@dataclass(frozen=True, slots=True)
class ActivityNotified(EventPayload):
    """An activity notified or amended: the addressees' view of it (docs/activities.md). Version 2
    leaves out version 1's count of its conflicts, which its addressees may not know (the notifier
    has each conflict in its answer and in ``activity.conflict``: ``ActivityConflicts``)."""

    KINDS = frozenset({EventKind.ACTIVITY_NOTIFIED, EventKind.ACTIVITY_AMENDED})
    SCHEMA_VERSION = 2

    activity: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ActivityConflicts(EventPayload):
    """What the checks of a notification found (one activity, or each of a batch's), told once to
    each party concerned, however many activities and conflicts: the first
    ``activity_event_max_conflicts`` across them, as found in the notification's order, and counts.

    The notifier's holds each conflict in full, each naming its activity (``activity_id``,
    ``version``: the shape of ``GET /v1/activities/{id}/conflicts``, which pages through every one);
    ``activity_id`` and ``version`` name the notification's activity when it is one, and are null for
    a batch of several. A party whose own activities they overlap is told the overlaps of its own
    only (the shape of ``overlapped_by``, each naming ``your_activity_id``; ``GET /v1/activities/{its
    id}/overlaps`` pages through every one), and never the notifier's activities: ``activity_id`` and
    ``version`` are null. Version 1 was one event per conflict and side, so one notification could
    send tens of thousands, a batch more (docs/activities.md)."""

    KINDS = frozenset({EventKind.ACTIVITY_CONFLICT})
    SCHEMA_VERSION = 2

    activity_id: str | None
    version: int | None
    #: The first conflicts found, as found (each a JSON object of the view the party told may see).
    conflicts: list[dict[str, Any]]
    #: How many the checks found that concern the party told (at least ``len(conflicts)``).
    conflicts_total: int
    #: How many of the party told's activities they concern: the notifier's notified ones, or the
    #: other party's own overlapped ones (each named by an item's ``activity_id`` or ``your_activity_id``).
    activities_total: int


@dataclass(frozen=True, slots=True)
class ActivityAnswered(EventPayload):
    """An addressee's answer to a version of an activity (``reason`` empty for an acknowledgement)."""

    KINDS = frozenset({EventKind.ACTIVITY_ACKNOWLEDGED, EventKind.ACTIVITY_OBJECTED})

    activity_id: str
    version: int
    addressee: str
    reason: str


@dataclass(frozen=True, slots=True)
class ActivityMoved(EventPayload):
    """The notifier moved an activity on: activated, completed or cancelled (with the reason)."""

    KINDS = frozenset({EventKind.ACTIVITY_ACTIVATED, EventKind.ACTIVITY_COMPLETED, EventKind.ACTIVITY_CANCELLED})

    activity_id: str
    version: int
    #: The activity's status now: ``active``, ``completed``, ``cancelled``.
    status: str
    reason: str


@dataclass(frozen=True, slots=True)
class ActivityWithdrawn(EventPayload):
    """An amendment dropped the addressees this event goes to: the activity no longer concerns them."""

    KINDS = frozenset({EventKind.ACTIVITY_WITHDRAWN})

    activity_id: str
    version: int


@dataclass(frozen=True, slots=True)
class ActivityLateNotice(EventPayload):
    """An activity notified with less notice than its ``kind`` requires (both in seconds)."""

    KINDS = frozenset({EventKind.ACTIVITY_LATE_NOTICE})

    activity_id: str
    version: int
    kind: str
    required_notice_s: float
    given_notice_s: float


@dataclass(frozen=True, slots=True)
class ActivityEscalated(EventPayload):
    """An addressee let its deadline pass: roster position ``level`` of its roster is called (none left:
    exhausted). Told to the notifier and the addressee alike, so it names no contact: version 2 leaves
    out version 1's ``contact_name`` and ``contact_role``, which told the notifier who on the
    addressee's roster was called (a roster is its party's alone: docs/need-to-know.md); the addressee
    reads them in its own view of the activity (``your_escalations``)."""

    KINDS = frozenset({EventKind.ACTIVITY_ESCALATED})
    SCHEMA_VERSION = 2

    activity_id: str
    version: int
    addressee: str
    level: int
    roster_exhausted: bool


@dataclass(frozen=True, slots=True)
class ZoneEntered(EventPayload):
    """A unit entered a zone its party is not permitted in (detect/zoneprobe.py)."""

    KINDS = frozenset({EventKind.ZONE_ENTERED})

    unit_id: str
    party_id: str
    zone_id: str
    #: The party's access to the zone: ``forbidden``, ``restricted``...
    access: str
    lat_deg: float
    lon_deg: float
    alt_m: float


@dataclass(frozen=True, slots=True)
class LineCrossed(EventPayload):
    """A unit crossed a deconfliction line (``count_today``: crossings of that party, line and direction on ``utc_day``)."""

    KINDS = frozenset({EventKind.ZONE_LINE_CROSSED})

    unit_id: str
    party_id: str
    zone_id: str
    #: ``left-to-right`` or ``right-to-left``, seen along the line.
    direction: str
    lat_deg: float
    lon_deg: float
    utc_day: str
    count_today: int


@dataclass(frozen=True, slots=True)
class ZoneEntryPredicted(EventPayload):
    """A unit is predicted to enter a zone in ``entry_in_s`` (at ``entry_time_s``, where ``lat_deg``/``lon_deg``)."""

    KINDS = frozenset({EventKind.ZONE_ENTRY_PREDICTED})

    unit_id: str
    party_id: str
    zone_id: str
    access: str
    entry_in_s: float
    entry_time_s: float
    lat_deg: float
    lon_deg: float


@dataclass(frozen=True, slots=True)
class ZonesImported(EventPayload):
    """A zone set was imported: which zones, which replaced stored ones, the SHA-256 of their canonical GeoJSON."""

    KINDS = frozenset({EventKind.ZONES_IMPORTED})

    zone_ids: list[str]
    replaced: list[str]
    zones_sha256: str


@dataclass(frozen=True, slots=True)
class PhraseSaid(EventPayload):
    """A standard phrase as said: its code and the values of its parameters (the same in every language)."""

    code: str
    params: dict[str, str]


@dataclass(frozen=True, slots=True)
class MessagePosted(EventPayload):
    """A message posted to a thread: where, who, what was said (a ``phrase``, a ``text``, or both: a phrase
    with a remark; the payload holds only those said), what it answers, its acknowledgement deadline."""

    KINDS = frozenset({EventKind.MESSAGE_POSTED})

    thread_id: str
    seq: int
    #: The message kind: ``text``, ``reply``, ``acknowledgement``, ``alert``...
    kind: str
    person: str
    reply_to_seq: int | None
    ack_deadline_s: float | None
    data: dict[str, Any]
    phrase: PhraseSaid | None = None
    text: str | None = None

    def to_payload(self) -> dict[str, Any]:
        """As ``EventPayload.to_payload``, leaving out ``phrase`` and ``text`` when not said."""
        payload = EventPayload.to_payload(self)
        return {k: v for k, v in payload.items() if v is not None or k not in ("phrase", "text")}


@dataclass(frozen=True, slots=True)
class MessageReceipt(EventPayload):
    """Messages of a thread reached a member party (``kind``: ``delivered`` or ``read``; ``seqs``: which)."""

    KINDS = frozenset({EventKind.MESSAGE_RECEIPT})

    thread_id: str
    party_id: str
    kind: str
    seqs: list[int]
    person: str


@dataclass(frozen=True, slots=True)
class PartyAvailability(EventPayload):
    """A party declared its availability (``available``, ``degraded``, ``suspended``)."""

    KINDS = frozenset({EventKind.PARTY_AVAILABILITY})

    party_id: str
    availability: str
    reason: str
    person: str


@dataclass(frozen=True, slots=True)
class HotlineEscalated(EventPayload):
    """An unacknowledged message escalated to contact ``step`` of the overdue party's roster of
    ``contacts`` (``exhausted``: none left). ``contact`` names the one called (name and role) in the
    event told to the overdue party alone; null in the one told to the thread's other members. Version
    2 adds ``contacts`` and leaves the name out of what other parties are told: version 1 told every
    member of the thread who on another party's roster was called (docs/need-to-know.md)."""

    KINDS = frozenset({EventKind.HOTLINE_ESCALATED})
    SCHEMA_VERSION = 2

    thread_id: str
    seq: int
    party_id: str
    step: int
    contacts: int
    contact: str | None
    exhausted: bool


@dataclass(frozen=True, slots=True)
class PartyAdded(EventPayload):
    """A party joined; ``others`` are the parties already there (the hotline opens a standing line with each)."""

    KINDS = frozenset({EventKind.PARTY_ADDED})

    party_id: str
    name: str
    language: str
    others: list[str]


@dataclass(frozen=True, slots=True)
class UnitAdded(EventPayload):
    """A unit was registered to a force of ``party_id`` (the track ingest learns it)."""

    KINDS = frozenset({EventKind.UNIT_ADDED})

    unit_id: str
    force_id: str
    party_id: str
    #: ``air``, ``land`` or ``sea``.
    domain: str


@dataclass(frozen=True, slots=True)
class IncidentOpened(EventPayload):
    """An incident opened (its ``kind``: ``separation-lost``, ``zone-violation``...; ``reported_by``: None when
    keepclear opened it from a trigger)."""

    KINDS = frozenset({EventKind.INCIDENT_OPENED})

    incident_id: str
    kind: str
    time_s: float
    parties: list[str]
    unit_ids: list[str]
    alert_ids: list[str]
    zone_id: str | None
    zone_kind: str | None
    summary: str
    reported_by: str | None


#: The typed payload class of each kind that has one.
PAYLOAD_TYPES: Mapping[EventKind, type[EventPayload]] = {
    kind: cls
    for cls in (
        AlertChange,
        AlertAcknowledged,
        ActivityNotified,
        ActivityConflicts,
        ActivityAnswered,
        ActivityMoved,
        ActivityWithdrawn,
        ActivityLateNotice,
        ActivityEscalated,
        IncidentOpened,
        ZoneEntered,
        LineCrossed,
        ZoneEntryPredicted,
        ZonesImported,
        MessagePosted,
        MessageReceipt,
        PartyAvailability,
        HotlineEscalated,
        PartyAdded,
        UnitAdded,
    )
    for kind in cls.KINDS
}


def schema_version(kind: EventKind) -> int:
    """The version of ``kind``'s payload form (1 for kinds whose payload is not typed yet)."""
    typed = PAYLOAD_TYPES.get(kind)
    return 1 if typed is None else typed.SCHEMA_VERSION
