"""Events: what happened, as one plain value every consumer (hotline, streams, record) reads.

Services emit events; subscribers decide what to do with them. ``payload`` holds JSON-ready values
only (str, int, float, bool, None, lists and dicts of them).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from keepclear.domain.event_kinds import EventKind

__all__ = ["Clock", "Event", "EventKind", "EventSink"]


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened at ``time_s``, done by ``party_id`` (None for the system itself).

    ``kind`` is one of ``EventKind`` (``activity.notified``, ``alert.raised``, ``message.posted``...).
    ``parties`` names every party the event concerns (who may be told of it).
    """

    kind: EventKind
    time_s: float
    party_id: str | None
    payload: dict[str, Any]
    parties: frozenset[str] = field(default_factory=frozenset)
    #: Which part of the deployment emitted the event, for the deployment's own processes alone (a
    #: detector worker's share and run: ``services.runtime.run_marks.run_mark``); None for most.
    #: Never in the payload, the id or the wire document: it crosses processes as a header of the bus
    #: message (``services.runtime.nats_bus``), so nothing a party reads carries it. Not compared.
    emitted_by: str | None = field(default=None, compare=False, repr=False)
    #: The id once computed (``id``): the bus, the record and the streams each ask for it.
    _id: str | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def id(self) -> str:
        """A stable id: the same kind, time, party, payload and parties always give the same id (a
        receiver of events from another process drops one it has seen: ``event_wire``). Hashed once
        an event (its payload is not changed once it is made)."""
        known = self._id
        if known is None:
            content = [self.kind, self.time_s, self.party_id, sorted(self.parties), self.payload]
            text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
            known = "evt-" + hashlib.sha256(text.encode()).hexdigest()[:32]
            object.__setattr__(self, "_id", known)
        return known


class EventSink(Protocol):
    """Anything that takes events."""

    def emit(self, event: Event) -> None:
        """Take one event; must not raise for a well-formed event."""

    def publish(self, events: Sequence[Event]) -> None:
        """Take several events at once, in order (one probe tick's alert changes, say), so that
        consumers can handle them together: one transaction for many ledger entries, not one each."""

    def publish_nowait(self, events: Sequence[Event]) -> None:
        """As ``publish``, without waiting for the consumers (the probe tick must keep its pace)."""


class Clock(Protocol):
    """The source of the current time, passed in so tests and replays control it."""

    def now_s(self) -> float:
        """Seconds since the Unix epoch (UTC)."""
