"""Alerts as their events tell them, for reading back: the latest payload of each active alert
(``AlertMemory``: positions and closest approach kept through an acknowledgement, a loss of
separation noted) and the last resolved ones; the view of one a party reads (``alert_view``); and
the events made of an alert this process holds no book for: a worker's alert acknowledged through
an API process, an earlier run's alert resolved when a share starts."""

from __future__ import annotations

from collections import deque
from typing import Any

from keepclear.detect.alerts import Alert
from keepclear.domain.event_kinds import ALERT_KINDS, EventKind
from keepclear.domain.events import Event

__all__ = ["FULL_ALERT_KINDS", "AlertMemory", "acknowledged_event", "alert_view", "resolved_event"]

#: What an ``alert.acknowledged`` payload repeats of its alert (``AlertBook._base_payload``).
_ALERT_STATE_KEYS = ("alert_id", "unit_a", "unit_b", "party_a", "party_b", "level", "level_number", "raised_s")

#: Alert events that carry the whole alert (the others add to one known).
FULL_ALERT_KINDS = frozenset({EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED, EventKind.ALERT_RESOLVED})


class AlertMemory:
    """``latest``: each active alert's payload, merged from its events; ``resolved_for(party)``: the
    last ``resolved_kept`` alerts of that party resolved, oldest first. Kept per party, so that
    how soon one party's resolved alerts leave tells it nothing of how many the others had. Not
    locked: its owner's lock guards it."""

    def __init__(self, resolved_kept: int) -> None:
        self.latest: dict[str, dict[str, Any]] = {}
        self._resolved_kept = resolved_kept
        self._resolved: dict[str, deque[dict[str, Any]]] = {}

    def resolved_for(self, party_id: str) -> list[dict[str, Any]]:
        """The last ``resolved_kept`` resolved alerts involving ``party_id``, oldest first."""
        return list(self._resolved.get(party_id, ()))

    def remember(self, event: Event) -> None:
        """Take alert event ``event`` in (any other event changes nothing)."""
        if event.kind not in ALERT_KINDS:
            return
        alert_id = event.payload["alert_id"]
        if event.kind == EventKind.ALERT_SEPARATION_LOST:
            self.latest.setdefault(alert_id, {}).update(los_s=event.time_s)
            return
        if event.kind == EventKind.ALERT_RESOLVED:
            resolved = {**self.latest.pop(alert_id, {}), **event.payload, "status": "resolved"}
            for party_id in {resolved["party_a"], resolved["party_b"]}:
                kept = self._resolved.setdefault(party_id, deque(maxlen=self._resolved_kept))
                kept.append(resolved)
            return
        previous = self.latest.get(alert_id, {})
        merged = {**previous, **event.payload}
        if event.kind == EventKind.ALERT_ACKNOWLEDGED:
            for key in ("positions", "cpa"):
                if key in previous:
                    merged[key] = previous[key]
        self.latest[alert_id] = merged


def alert_view(payload: dict[str, Any], alert: Alert | None, from_workers: bool) -> dict[str, Any]:
    """An alert as a party reads it: its remembered ``payload`` with its status and who acknowledged
    it, from this process's book (``alert``; None: not in the book) or, ``from_workers``, from what
    was heard of a worker's alert (active while remembered)."""
    if alert is None and from_workers:
        acknowledged = payload.get("acknowledged_by", [])
        return {**payload, "status": "acknowledged" if acknowledged else "raised", "acknowledged_by": acknowledged}
    status = "resolved" if alert is None else ("acknowledged" if alert.acknowledged_by else "raised")
    acknowledged_by = sorted(alert.acknowledged_by) if alert else payload.get("acknowledged_by", [])
    return {**payload, "status": status, "acknowledged_by": acknowledged_by}


def acknowledged_event(heard: dict[str, Any], party_id: str, now_s: float) -> Event:
    """``alert.acknowledged`` by ``party_id`` of the alert remembered as ``heard``."""
    payload = {key: heard[key] for key in _ALERT_STATE_KEYS}
    payload["acknowledged_by"] = sorted({*heard.get("acknowledged_by", []), party_id})
    parties = frozenset((heard["party_a"], heard["party_b"]))
    return Event(EventKind.ALERT_ACKNOWLEDGED, now_s, party_id, payload, parties)


def resolved_event(last: dict[str, Any], now_s: float, emitted_by: str | None) -> Event:
    """``alert.resolved`` of the alert whose last raise or level change carried payload ``last``."""
    payload = {key: last[key] for key in _ALERT_STATE_KEYS}
    payload.update(level="none", level_number=0, previous_level=last["level"], time_s=now_s)
    payload.update(positions={}, cpa=None)
    parties = frozenset((last["party_a"], last["party_b"]))
    return Event(EventKind.ALERT_RESOLVED, now_s, None, payload, parties, emitted_by=emitted_by)
