"""What each change of an activity tells, and whom: the events a notification or an amendment
stages with its write (need to know: each party is told what concerns it, in the view it may see).
"""

from __future__ import annotations

from keepclear.detect.strategic import CheckResult, Conflict
from keepclear.domain.activities import Activity
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.services.activities.views import addressee_view, conflict_view, notifier_conflict
from keepclear.services.policy import sees_party_data_of


def notified_events(
    activity: Activity,
    addressees: frozenset[str],
    check: CheckResult,
    now_s: float,
    kind: EventKind,
    withdrawn: frozenset[str],
) -> list[Event]:
    """What a notification or amendment of ``activity`` (``check``: what its check found) tells, and
    whom: the notice to its party and ``addressees``, the withdrawal to those no longer addressed
    (``withdrawn``), the late notice, and each conflict to the notifier and to the other side."""
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
