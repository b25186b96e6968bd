"""What each change of an activity tells, and whom: the events a notification, an amendment, an
answer, a change of status or an escalation stages with its write (need to know: each party is told
what concerns it, in the view it may see).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from keepclear.detect.strategic import Conflict
from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import ActivityConflicts
from keepclear.domain.events import Event
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.views import addressee_view, conflict_view, notifier_conflict
from keepclear.services.policy import sees_party_data_of
from keepclear.store.activity_acks import EscalationStep


def notified_events(
    result: NotifyResult, now_s: float, kind: EventKind, withdrawn: frozenset[str], most_conflicts: int
) -> list[Event]:
    """What a notification or amendment (``result``: the activity, its addressees, what its check
    found) tells, and whom: the notice to its party and addressees, the withdrawal to those no longer
    addressed (``withdrawn``), the late notice, and its conflicts to the notifier and to the other
    side, once to each, at most ``most_conflicts`` in each event (``conflict_events``)."""
    activity, addressees, check = result.activity, result.addressees, result.check
    out: list[Event] = []
    told = frozenset({activity.party_id}) | addressees
    out.append(
        Event(
            kind=kind,
            time_s=now_s,
            party_id=activity.party_id,
            payload={"activity": addressee_view(activity)},  # what every party told may see
            parties=told,
        )
    )
    if withdrawn:
        out.append(
            Event(
                kind=EventKind.ACTIVITY_WITHDRAWN,
                time_s=now_s,
                party_id=activity.party_id,
                payload={"activity_id": activity.id, "version": activity.version},
                parties=withdrawn,
            )
        )
    late = check.late_notice
    if late is not None:
        out.append(
            Event(
                kind=EventKind.ACTIVITY_LATE_NOTICE,
                time_s=now_s,
                party_id=activity.party_id,
                payload={
                    "activity_id": activity.id,
                    "version": activity.version,
                    "kind": activity.kind.value,
                    "required_notice_s": late.required_s,
                    "given_notice_s": late.given_s,
                },
                parties=told,
            )
        )
    out += conflict_events(activity, check.conflicts, now_s, most_conflicts)
    return out


def conflict_events(activity: Activity, conflicts: Sequence[Conflict], now_s: float, most: int) -> list[Event]:
    """The ``conflicts`` of ``activity``'s check, told once to each party concerned however many
    there are (``ActivityConflicts``): to its notifier in full; to each other party whose own
    activities it overlaps, those overlaps only, in the view it may see (none to a party that sees
    the notifier's data: it is the notifier). Each event holds the first ``most`` as found and counts
    them all; the rest are paged by the routes of the conflicts and the overlaps (docs/activities.md)."""
    if not conflicts:
        return []
    told: dict[str, list[Conflict]] = {}
    for conflict in conflicts:
        target = conflict.target_party_id
        if target is not None and not sees_party_data_of(target, activity.party_id):
            told.setdefault(target, []).append(conflict)
    mine = [notifier_conflict(activity.id, activity.version, c) for c in conflicts[:most]]
    out = [_conflicts_event(activity, activity.id, activity.version, mine, len(conflicts), activity.party_id, now_s)]
    for party_id, theirs in sorted(told.items()):
        shown = [conflict_view(c) for c in theirs[:most]]
        out.append(_conflicts_event(activity, None, None, shown, len(theirs), party_id, now_s))
    return out


def _conflicts_event(
    activity: Activity,
    activity_id: str | None,
    version: int | None,
    shown: list[dict[str, Any]],
    total: int,
    party_id: str,
    now_s: float,
) -> Event:
    """One ``activity.conflict`` event of ``activity`` to ``party_id`` (the notifier acts)."""
    payload = ActivityConflicts(activity_id, version, shown, total)
    return Event(
        kind=EventKind.ACTIVITY_CONFLICT,
        time_s=now_s,
        party_id=activity.party_id,
        payload=payload.to_payload(),
        parties=frozenset({party_id}),
    )


def answered_event(activity: Activity, party_id: str, kind: EventKind, reason: str, now_s: float) -> Event:
    """Addressee ``party_id``'s answer to ``activity`` (its current version), told to the notifier and
    to the addressee."""
    return Event(
        kind=kind,
        time_s=now_s,
        party_id=party_id,
        payload={"activity_id": activity.id, "version": activity.version, "addressee": party_id, "reason": reason},
        parties=frozenset({activity.party_id, party_id}),
    )


def moved_event(
    activity: Activity,
    party_id: str,
    target: ActivityStatus,
    kind: EventKind,
    reason: str,
    addressees: frozenset[str],
    now_s: float,
) -> Event:
    """The notifier ``party_id``'s move of ``activity`` (its current version) to ``target``, told to
    the notifier and to the ``addressees``."""
    return Event(
        kind=kind,
        time_s=now_s,
        party_id=party_id,
        payload={"activity_id": activity.id, "version": activity.version, "status": target.value, "reason": reason},
        parties=frozenset({party_id}) | addressees,
    )


def escalated_event(step: EscalationStep, notifier: str, now_s: float) -> Event:
    """One escalation ``step`` (the silent addressee's roster called, or exhausted), told to the
    ``notifier`` and to the addressee."""
    return Event(
        kind=EventKind.ACTIVITY_ESCALATED,
        time_s=now_s,
        party_id=None,
        payload={
            "activity_id": step.activity_id,
            "version": step.version,
            "addressee": step.party_id,
            "level": step.level,
            "contact_name": step.contact_name,
            "contact_role": step.contact_role,
            "roster_exhausted": step.contact_name is None,
        },
        parties=frozenset({notifier, step.party_id}),
    )
