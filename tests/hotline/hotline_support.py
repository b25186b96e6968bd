"""Helpers of the hotline tests."""

from __future__ import annotations

from keepclear.domain.events import Event
from keepclear.services.hotline.service import HotlineService


class Recorder:
    """Keeps every event the bus delivers."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)

    def of(self, kind: str) -> list[Event]:
        return [e for e in self.events if e.kind == kind]


def pair(service: HotlineService, a: str, b: str) -> str:
    """The id of the standing thread between ``a`` and ``b``."""
    return next(t.id for t in service.threads_of(a) if t.standing and set(t.parties) == {a, b})
