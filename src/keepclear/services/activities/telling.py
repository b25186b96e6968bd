"""What each change of an activity tells, and whom: the events a notification, an amendment, an
answer, a change of status or an escalation stages with its write (need to know: each party is told
what concerns it, in the view it may see).
"""

from __future__ import annotations

from keepclear.detect.strategic import Conflict
from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.views import addressee_view, conflict_view, notifier_conflict
from keepclear.services.policy import sees_party_data_of
from keepclear.store.activity_acks import EscalationStep


def notified_events(result: NotifyResult, now_s: float, kind: EventKind, withdrawn: frozenset[str]) -> list[Event]:
    """What a notification or amendment (``result``: the activity, its addressees, what its check
    found) tells, and whom: the notice to its party and addressees, the withdrawal to those no longer
    addressed (``withdrawn``), the late notice, and each conflict to the notifier and to the other side."""
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
    for conflict in check.conflicts:
        out += conflict_events(activity, conflict, now_s)
    return out


def conflict_events(activity: Activity, conflict: Conflict, now_s: float) -> list[Event]:
    """A conflict of ``activity`` told to its notifier (in full) and to the other side's party (what
    it may see of the notifier's activity), unless both are one party."""
    out: list[Event] = []
    out.append(
        Event(
            kind=EventKind.ACTIVITY_CONFLICT,
            time_s=now_s,
            party_id=activity.party_id,
            payload=notifier_conflict(activity.id, activity.version, conflict),
            parties=frozenset({activity.party_id}),
        )
    )
    if conflict.target_party_id is not None and not sees_party_data_of(conflict.target_party_id, activity.party_id):
        out.append(
            Event(
                kind=EventKind.ACTIVITY_CONFLICT,
                time_s=now_s,
                party_id=activity.party_id,
                payload=conflict_view(conflict),
                parties=frozenset({conflict.target_party_id}),
            )
        )
    return out


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
