"""Incidents: dangerous events that happened (separation lost, zone violated, or reported by a party).

Pure values and the one function that decides which events open an incident automatically
(``incident_trigger``), kept small so the payload contract can be adjusted in one place.

Expected event payloads (from the tactical layer):

- ``alert.raised`` / ``alert.level_changed`` / ``alert.separation_lost``: ``{"alert_id": str, "los": bool, "level": str,
  "unit_ids": [str, ...], "parties": [str, ...], "zone_id": str | null, "zone_kind": str | null}``.
  ``los: true`` means separation is actually lost (or, with a ``zone_id``, the zone is actually
  entered against its rules). ``units`` is accepted for ``unit_ids``; ``parties`` defaults to the
  event's parties. The tactical alert book's shape is read too: ``cpa.los`` for ``los`` and
  ``unit_a``/``unit_b`` for the units.
- ``zone.entered``: ``{"zone_id": str, "zone_kind": str, "unit_id": str, "violation": bool}``
  (``permitted: false`` or ``access: "forbidden"`` is read as ``violation: true``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event

#: Evidence covers the involved units' tracks this long before and after the incident time.
EVIDENCE_WINDOW_S = 600.0


class IncidentKind(enum.StrEnum):
    """What happened."""

    SEPARATION_LOST = "separation-lost"
    ZONE_VIOLATION = "zone-violation"
    REPORTED = "reported"


class ReviewStatus(enum.StrEnum):
    """Where the joint review stands."""

    OPEN = "open"
    UNDER_REVIEW = "under-review"
    AGREED = "agreed"
    DISPUTED = "disputed"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Trigger:
    """What an event says about an incident it should open."""

    kind: IncidentKind
    time_s: float
    unit_ids: tuple[str, ...]
    parties: tuple[str, ...]
    alert_id: str | None
    zone_id: str | None
    zone_kind: str | None
    summary: str


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)):
        return tuple(sorted({v for v in value if isinstance(v, str)}))
    return ()


def incident_trigger(event: Event) -> Trigger | None:
    """The incident ``event`` opens, or None (see the module docstring for the payloads read).

    >>> trigger = incident_trigger(Event(EventKind.ALERT_RAISED, 10.0, None, {"los": True, "unit_ids": ["u2", "u1"]}))
    >>> (trigger.kind.value, trigger.unit_ids) if trigger else None
    ('separation-lost', ('u1', 'u2'))
    """
    payload = event.payload
    parties = _strings(payload.get("parties")) or tuple(sorted(event.parties))
    zone_id = payload.get("zone_id") if isinstance(payload.get("zone_id"), str) else None
    zone_kind = payload.get("zone_kind") if isinstance(payload.get("zone_kind"), str) else None
    if event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED, EventKind.ALERT_SEPARATION_LOST):
        cpa = payload.get("cpa")
        lost = payload.get("los") is True or (isinstance(cpa, dict) and cpa.get("los") is True)
        if not lost:
            return None
        units = _strings(payload.get("unit_ids", payload.get("units")))
        if not units:
            units = tuple(sorted(u for u in (payload.get("unit_a"), payload.get("unit_b")) if isinstance(u, str)))
        alert_id = payload.get("alert_id") if isinstance(payload.get("alert_id"), str) else None
        kind = IncidentKind.ZONE_VIOLATION if zone_id else IncidentKind.SEPARATION_LOST
        what = f"zone {zone_id} entered" if zone_id else "separation lost"
        return Trigger(kind, event.time_s, units, parties, alert_id, zone_id, zone_kind, f"{what}: {', '.join(units)}")
    if event.kind == EventKind.ZONE_ENTERED:
        violated = (
            payload.get("violation") is True
            or payload.get("permitted") is False
            or payload.get("access") == "forbidden"
        )
        if not violated or zone_id is None:
            return None
        units = _strings(payload.get("unit_id", payload.get("unit_ids")))
        return Trigger(
            IncidentKind.ZONE_VIOLATION,
            event.time_s,
            units,
            parties,
            None,
            zone_id,
            zone_kind,
            f"zone {zone_id} violated: {', '.join(units)}",
        )
    return None


@dataclass(frozen=True, slots=True)
class Incident:
    """A dangerous event and where its review stands.

    ``time_s`` is when it happened; the evidence window is ``time_s ± EVIDENCE_WINDOW_S``.
    ``reported_by`` is the reporting party, None when opened automatically.
    ``evidence_sha256`` is set once the evidence is frozen (after the window has passed).
    """

    id: str
    kind: IncidentKind
    status: ReviewStatus
    time_s: float
    opened_s: float
    reported_by: str | None
    parties: tuple[str, ...]
    unit_ids: tuple[str, ...]
    alert_ids: tuple[str, ...]
    zone_id: str | None
    zone_kind: str | None
    summary: str
    evidence_sha256: str | None = None
    evidence_frozen_s: float | None = None
    #: The involved parties whose last review step agreed, and those whose last step disputed.
    agreed_by: tuple[str, ...] = ()
    disputed_by: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ReviewStand:
    """Where a joint review stands after a step: its status, who agrees, who disputes."""

    status: ReviewStatus
    agreed_by: tuple[str, ...]
    disputed_by: tuple[str, ...]


def party_review_step(incident: Incident, party_id: str, stance: ReviewStatus) -> ReviewStand | str:
    """What an involved party's review step makes of ``incident``'s review, or why it is refused.

    The review is joint: each involved party speaks for itself, and none for the others. ``agreed``
    and ``disputed`` are the party's own stance (a later step replaces its earlier one; ``open`` and
    ``under-review`` withdraw it). The incident is ``disputed`` while any involved party disputes,
    ``agreed`` once every involved party agrees, ``open`` while nobody has taken a stance and the
    step is ``open``, else ``under-review``. ``closed`` is final, so it is taken only once every
    involved party agrees: before, any one party could agree or close on its own, the others'
    accounts and dispute ending with it. ``incident`` must not be closed (the caller refuses that)."""
    agreed = set(incident.agreed_by) - {party_id}
    disputed = set(incident.disputed_by) - {party_id}
    involved = set(incident.parties)
    if stance is ReviewStatus.CLOSED:
        waiting = sorted(involved - set(incident.agreed_by))
        if incident.disputed_by or waiting:
            return (
                f"incident {incident.id}: a review closes once every involved party agrees; waiting for"
                f" {', '.join(waiting)}"
                + (f" (disputed by {', '.join(sorted(incident.disputed_by))})" if incident.disputed_by else "")
            )
        return ReviewStand(ReviewStatus.CLOSED, incident.agreed_by, incident.disputed_by)
    if stance is ReviewStatus.AGREED:
        agreed.add(party_id)
    elif stance is ReviewStatus.DISPUTED:
        disputed.add(party_id)
    if disputed:
        status = ReviewStatus.DISPUTED
    elif involved <= agreed:
        status = ReviewStatus.AGREED
    elif stance is ReviewStatus.OPEN and not agreed:
        status = ReviewStatus.OPEN
    else:
        status = ReviewStatus.UNDER_REVIEW
    return ReviewStand(status, tuple(sorted(agreed)), tuple(sorted(disputed)))


@dataclass(frozen=True, slots=True)
class Account:
    """One party's account of an incident; an amendment names the position it amends."""

    incident_id: str
    position: int
    party_id: str
    time_s: float
    text: str
    amends: int | None


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """Something that happened around an incident: an alert change, a message, an account, a review step."""

    incident_id: str
    position: int
    time_s: float
    kind: str
    party_id: str | None
    payload: dict[str, Any]
