"""Every event a scenario run emits fits its kind's typed payload and crosses the wire unchanged: the
producers and the typed forms (domain/event_payloads.py) describe the same payloads."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from test_demo_run import _run

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import PAYLOAD_TYPES
from keepclear.domain.event_wire import event_from_json, event_to_json


def test_every_event_of_a_run_fits_its_typed_payload_and_crosses_the_wire(tmp_path: Path) -> None:
    events = _run(tmp_path, "typed", seed=7).log.events()
    seen: Counter[EventKind] = Counter()
    for event in events:
        assert isinstance(event.kind, EventKind), event.kind
        typed = PAYLOAD_TYPES.get(event.kind)
        if typed is not None:
            typed.from_payload(event.payload)
            seen[event.kind] += 1
        assert event_from_json(event_to_json(event)) == event
    # the run exercises the zone, activity and hotline producers (the alert book's: tests/tactical)
    kinds = {EventKind.ZONE_LINE_CROSSED, EventKind.ACTIVITY_NOTIFIED, EventKind.ACTIVITY_ACKNOWLEDGED}
    assert kinds | {EventKind.HOTLINE_ESCALATED} <= seen.keys(), seen
