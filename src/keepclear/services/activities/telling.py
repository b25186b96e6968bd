"""What each change of an activity tells, and whom: the events a notification, an amendment, an
answer, a change of status or an escalation stages with its write (need to know: each party is told
what concerns it, in the view it may see).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
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
    """What a notification or amendment of one activity (``result``: the activity, its addressees,
    what its check found) tells, and whom: its notices (``notice_events``) and its conflicts to the
    notifier and to the other side, once to each, at most ``most_conflicts`` in each event
    (``conflict_events``: a batch of one)."""
    checked = [(result.activity, result.check.conflicts)]
    return notice_events(result, now_s, kind, withdrawn) + conflict_events(checked, now_s, most_conflicts)


def notice_events(result: NotifyResult, now_s: float, kind: EventKind, withdrawn: frozenset[str]) -> list[Event]:
    """The notices of one notified or amended activity: the notice to its party and addressees, the
    withdrawal to those no longer addressed (``withdrawn``) and the late notice. A batch tells these
    for each of its activities (each addressee must learn each one); its conflicts once for all."""
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
    return out


def conflict_events(checked: Sequence[tuple[Activity, Sequence[Conflict]]], now_s: float, most: int) -> list[Event]:
    """The conflicts of a notification's ``checked`` activities (one, or a batch's, in its order, each
    with what its check found), told once to each party concerned however many activities and
    conflicts there are (``ActivityConflicts``): to the notifier in full; to each other party whose
    own activities they overlap, those overlaps only, in the view it may see (none to a party that
    sees the notifier's data: it is the notifier). Each event holds the first ``most`` across the
    activities, as found, and counts them all and the told party's activities they concern; the rest
    are paged by the routes of the conflicts and the overlaps (docs/activities.md)."""
    one = len(checked) == 1
    mine: dict[str, _Told] = {}
    theirs: dict[tuple[str, str], _Told] = {}
    for activity, conflicts in checked:
        if not conflicts:
            continue
        notifier = activity.party_id
        told = mine.setdefault(notifier, _Told(notifier, notifier))
        told.activities.add(activity.id)
        for conflict in conflicts:
            told.add(most, partial(notifier_conflict, activity.id, activity.version, conflict))
            target = conflict.target_party_id
            if target is not None and not sees_party_data_of(target, notifier):
                other = theirs.setdefault((notifier, target), _Told(notifier, target))
                other.activities.add(conflict.target_id)
                other.add(most, partial(conflict_view, conflict))
    out: list[Event] = []
    for notifier, told in sorted(mine.items()):
        named = checked[0][0] if one else None
        out.append(told.event(named, now_s))
        out += [other.event(None, now_s) for (by, _), other in sorted(theirs.items()) if by == notifier]
    return out


class _Told:
    """What one party is told of a notification's conflicts: the first few in its view, and counts."""

    __slots__ = ("activities", "notifier", "party_id", "shown", "total")

    def __init__(self, notifier: str, party_id: str) -> None:
        self.notifier = notifier
        self.party_id = party_id
        self.shown: list[dict[str, Any]] = []
        self.total = 0
        self.activities: set[str] = set()

    def add(self, most: int, view: Callable[[], dict[str, Any]]) -> None:
        """Count one more conflict, and show it while fewer than ``most`` are (viewed only then)."""
        self.total += 1
        if len(self.shown) < most:
            self.shown.append(view())

    def event(self, activity: Activity | None, now_s: float) -> Event:
        """The ``activity.conflict`` event to the party told (``activity``: the notification's one
        activity, named to its notifier only; the notifier acts)."""
        payload = ActivityConflicts(
            None if activity is None else activity.id,
            None if activity is None else activity.version,
            self.shown,
            self.total,
            len(self.activities),
        )
        return Event(
            kind=EventKind.ACTIVITY_CONFLICT,
            time_s=now_s,
            party_id=self.notifier,
            payload=payload.to_payload(),
            parties=frozenset({self.party_id}),
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
    ``notifier`` and to the addressee: which position, never who (the roster is the addressee's alone;
    it reads the name in its own view of the activity)."""
    return Event(
        kind=EventKind.ACTIVITY_ESCALATED,
        time_s=now_s,
        party_id=None,
        payload={
            "activity_id": step.activity_id,
            "version": step.version,
            "addressee": step.party_id,
            "level": step.level,
            "roster_exhausted": step.contact_name is None,
        },
        parties=frozenset({notifier, step.party_id}),
    )
