"""An alert is handed to the streams before the other events of its batch are even shown: another
party's bulky events (an activity batch of polygons of thousands of vertices) must not delay it."""

from __future__ import annotations

import asyncio
from typing import Any

from keepclear.api.streams import StreamHub
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.services.policy import party_event_view


def _kinds_in_ring(hub: StreamHub, party_id: str) -> list[str]:
    """The kinds of the events ``party_id``'s ring keeps, in its order (as a client resuming from 0 gets them)."""

    async def read() -> list[str]:
        return [text async for text in hub.stream(party_id, "0", once=True)]

    return [text.splitlines()[1].removeprefix("event: ") for text in asyncio.run(read()) if text.startswith("id: ")]


def _activity(k: int) -> Event:
    ring = [[40.0 + 0.001 * i, 35.0 + 0.001 * (i % 7)] for i in range(2_000)]
    payload = {
        "activity_id": f"act-{k}",
        "version": 1,
        "volumes": [{"geometry": {"type": "Polygon", "coordinates": [ring]}}],
    }
    return Event(EventKind.ACTIVITY_NOTIFIED, 100.0 + k, "a", payload, frozenset({"a", "b"}))


def _alert(alert_id: str, kind: EventKind) -> Event:
    payload = {"alert_id": alert_id, "party_a": "b", "party_b": "c", "unit_a": "b1", "unit_b": "c1", "level": "warning"}
    return Event(kind, 101.0, None, payload, frozenset({"b", "c"}))


def test_the_alerts_of_a_batch_are_shown_and_kept_before_its_bulky_events() -> None:
    shown: list[str] = []

    def view(party_id: str, event: Event) -> dict[str, Any] | None:
        shown.append(event.kind.value)
        return party_event_view(party_id, event)

    hub = StreamHub(view=view)
    batch = [
        _activity(0),
        _alert("al-1", EventKind.ALERT_RAISED),
        _activity(1),
        _alert("al-1", EventKind.ALERT_RESOLVED),
    ]
    hub.on_events(batch)
    # every view of the two alert events (for b and c) was made before any of the activities'
    assert shown[:4] == ["alert.raised", "alert.raised", "alert.resolved", "alert.resolved"]
    assert shown[4:] == ["activity.notified"] * 4
    # b's ring: the alerts in their order, then the activities in theirs; a and c see theirs only
    assert _kinds_in_ring(hub, "b") == ["alert.raised", "alert.resolved", "activity.notified", "activity.notified"]
    assert _kinds_in_ring(hub, "a") == ["activity.notified", "activity.notified"]
    assert _kinds_in_ring(hub, "c") == ["alert.raised", "alert.resolved"]


def test_a_batch_of_one_sort_keeps_its_order() -> None:
    hub = StreamHub()
    hub.on_events([_activity(0), _activity(1)])
    hub.on_events([_alert("al-1", EventKind.ALERT_RAISED), _alert("al-2", EventKind.ALERT_RAISED)])
    hub.on_events([_activity(2)])
    assert _kinds_in_ring(hub, "b") == ["activity.notified"] * 2 + ["alert.raised"] * 2 + ["activity.notified"]
