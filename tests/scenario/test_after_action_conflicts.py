"""The after-action timeline's line for an ``activity.conflict`` event (version 3): the notifier's of one
activity, of a batch of several (each conflict naming its activity), and the overlapped party's."""

from __future__ import annotations

from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import ActivityConflicts
from keepclear.domain.events import Event
from keepclear.services.reports.after_action import _summary

NAMES = {"id-a1": "a1", "id-a2": "a2", "id-b1": "b1"}


def _line(payload: ActivityConflicts, party: str) -> str:
    event = Event(EventKind.ACTIVITY_CONFLICT, 0.0, "a", payload.to_payload(), frozenset({party}))
    return _summary(event, NAMES)


def _mine(activity_id: str) -> dict[str, Any]:
    return {"activity_id": activity_id, "version": 1, "target_id": "id-b1"}


def test_each_side_of_a_conflict_event_is_summarised_by_the_activities_it_names() -> None:
    one = ActivityConflicts("id-a1", 1, [_mine("id-a1")], 3, 1)
    assert _line(one, "a") == "a1: 3 conflicts found"
    batch = ActivityConflicts(None, None, [_mine("id-a1"), _mine("id-a2")], 9, 5)
    assert _line(batch, "a") == "a1, a2 and 3 more: 9 conflicts found"
    theirs = ActivityConflicts(None, None, [{"your_activity_id": "id-b1"}], 9, 1)
    assert _line(theirs, "b") == "b1 overlapped by another party's activity (9 overlaps)"
