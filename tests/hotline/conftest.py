"""Fixtures of the hotline tests: a deployment with three parties and the hotline wired to its bus."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from keepclear.domain import Party
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import PAYLOAD_TYPES
from keepclear.domain.parties import Contact
from keepclear.services.hotline.hub import HotlineHub
from keepclear.services.hotline.service import HotlineService
from keepclear.services.runtime.deployment import Deployment

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from hotline_support import Recorder


@pytest.fixture
def recorder(deployment: Deployment) -> Iterator[Recorder]:
    rec = Recorder()
    deployment.bus.subscribe(rec)
    yield rec
    # the events the hotline and the registry emit fit their typed payloads (tests emit made-up alerts)
    for event in rec.events:
        typed = PAYLOAD_TYPES.get(event.kind)
        if typed is not None and event.kind in OWN_KINDS:
            assert typed.from_payload(event.payload).to_payload() == event.payload, event


#: Kinds only the hotline and the registry emit in these tests.
OWN_KINDS = {
    EventKind.MESSAGE_POSTED,
    EventKind.MESSAGE_RECEIPT,
    EventKind.PARTY_AVAILABILITY,
    EventKind.HOTLINE_ESCALATED,
    EventKind.PARTY_ADDED,
}


@pytest.fixture
def hotline(deployment: Deployment, recorder: Recorder) -> HotlineService:
    """The hotline on the deployment's bus, with coalition (en), russia (ru) and un (en) added."""
    service = HotlineService(deployment.db, deployment.clock, deployment.bus)
    deployment.bus.subscribe_batches(service.on_events)  # as the runtime does
    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition", "en"), [Contact("Maj Smith", "J3 duty"), Contact("Col Jones", "J3")])
    reg.add_party(Party("russia", "Russian Federation", "ru"), [Contact("Maj Ivanov", "duty"), Contact("Col Petrov")])
    reg.add_party(Party("un", "UN OCHA", "en"))
    return service


@pytest.fixture
def hub(deployment: Deployment, hotline: HotlineService) -> HotlineHub:
    live = HotlineHub()
    hotline.add_listener(live.on_messages)
    deployment.bus.subscribe(live.on_event)
    return live
