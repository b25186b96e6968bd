"""Metrics per period for joint review, computed from ledger entries: what both sides can verify.

- incidents by kind (``incident.opened`` entries);
- line crossings (incidents whose zone is a deconfliction line) and zone violations by zone;
- acknowledgement delays: from ``alert.raised`` / ``activity.notified`` to each party's first
  ``alert.acknowledged`` / ``activity.acknowledged`` of the same ``alert_id`` / ``activity_id``; from
  a hotline message that asks for acknowledgement (``message.posted`` with an ``ack_deadline_s``) to
  each party's first ``acknowledgement`` message answering it (``reply_to_seq`` in the same thread);
- escalations (entry kinds containing ``escalat``), by party concerned.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.hotline import MessageKind
from keepclear.domain.timefmt import format_utc
from keepclear.ledger.model import Entry

#: The categories of acknowledgement delays, in the order they are reported.
ACK_CATEGORIES = ("activity", "alert", "message")
#: (category, opening kind, acknowledging kind, id field) of what is acknowledged by an entry of its own.
_ACK_BY_KIND = (
    ("alert", EventKind.ALERT_RAISED, EventKind.ALERT_ACKNOWLEDGED, "alert_id"),
    ("activity", EventKind.ACTIVITY_NOTIFIED, EventKind.ACTIVITY_ACKNOWLEDGED, "activity_id"),
)


def _message_id(payload: dict[str, Any], seq_field: str) -> str | None:
    thread, seq = payload.get("thread_id"), payload.get(seq_field)
    if not isinstance(thread, str) or not isinstance(seq, int) or isinstance(seq, bool):
        return None
    return f"{thread}#{seq}"


def acknowledgement_role(kind: str, payload: dict[str, Any]) -> tuple[str, str, bool] | None:
    """``(category, id, opens)`` when the entry opens something to acknowledge (``opens``) or
    acknowledges it; None when it does neither."""
    for category, open_kind, ack_kind, id_field in _ACK_BY_KIND:
        item_id = payload.get(id_field)
        if isinstance(item_id, str) and kind in (open_kind, ack_kind):
            return category, item_id, kind == open_kind
    if kind == EventKind.MESSAGE_POSTED:
        if payload.get("kind") == MessageKind.ACKNOWLEDGEMENT:
            answered = _message_id(payload, "reply_to_seq")
            return None if answered is None else ("message", answered, False)
        if payload.get("ack_deadline_s") is not None:
            asked = _message_id(payload, "seq")
            return None if asked is None else ("message", asked, True)
    return None


LINE_KIND = "deconfliction-line"


@dataclass
class DelayStats:
    """Acknowledgement delays of one category, in seconds."""

    acknowledged: int = 0
    unacknowledged: int = 0
    mean_s: float | None = None
    median_s: float | None = None
    max_s: float | None = None


@dataclass
class Metrics:
    """Figures of one period ``[from_s, until_s)``."""

    from_s: float
    until_s: float
    incidents_by_kind: dict[str, int] = field(default_factory=dict)
    line_crossings: int = 0
    zone_violations_by_zone: dict[str, int] = field(default_factory=dict)
    ack_delays: dict[str, DelayStats] = field(default_factory=dict)
    escalations: int = 0
    escalations_by_party: dict[str, int] = field(default_factory=dict)
    withheld_entries: int = 0

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready object."""
        return {
            "from": format_utc(self.from_s),
            "until": format_utc(self.until_s),
            "incidents_by_kind": dict(sorted(self.incidents_by_kind.items())),
            "incidents": sum(self.incidents_by_kind.values()),
            "line_crossings": self.line_crossings,
            "zone_violations_by_zone": dict(sorted(self.zone_violations_by_zone.items())),
            "acknowledgement_delays": {k: vars(v) for k, v in sorted(self.ack_delays.items())},
            "escalations": self.escalations,
            "escalations_by_party": dict(sorted(self.escalations_by_party.items())),
            "withheld_entries": self.withheld_entries,
        }

    def to_csv(self) -> str:
        """``metric,key,value`` rows (one figure a row; empty key for totals)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["metric", "key", "value"])
        writer.writerow(["period_from", "", format_utc(self.from_s)])
        writer.writerow(["period_until", "", format_utc(self.until_s)])
        writer.writerow(["incidents", "", sum(self.incidents_by_kind.values())])
        for kind, count in sorted(self.incidents_by_kind.items()):
            writer.writerow(["incidents_by_kind", kind, count])
        writer.writerow(["line_crossings", "", self.line_crossings])
        for zone, count in sorted(self.zone_violations_by_zone.items()):
            writer.writerow(["zone_violations_by_zone", zone, count])
        for category, stats in sorted(self.ack_delays.items()):
            for name, value in vars(stats).items():
                writer.writerow([f"ack_{name}", category, "" if value is None else value])
        writer.writerow(["escalations", "", self.escalations])
        for party, count in sorted(self.escalations_by_party.items()):
            writer.writerow(["escalations_by_party", party, count])
        writer.writerow(["withheld_entries", "", self.withheld_entries])
        return out.getvalue()


def compute_metrics(entries: list[Entry], from_s: float, until_s: float) -> Metrics:
    """Metrics of the entries whose time lies in ``[from_s, until_s)`` (others are ignored)."""
    metrics = Metrics(from_s, until_s)
    by_kind: Counter[str] = Counter()
    by_zone: Counter[str] = Counter()
    escalations: Counter[str] = Counter()
    opened: dict[tuple[str, str], float] = {}
    acked: dict[tuple[str, str], dict[str | None, float]] = {}
    from_us, until_us = round(from_s * 1e6), round(until_s * 1e6)
    for entry in entries:
        s = entry.statement
        if not from_us <= s.time_us < until_us:
            continue
        payload = entry.payload_value()
        if not isinstance(payload, dict):
            metrics.withheld_entries += entry.payload is None
            continue
        time_s = s.time_us / 1e6
        if s.kind == EventKind.INCIDENT_OPENED:
            by_kind[str(payload.get("kind"))] += 1
            if payload.get("zone_kind") == LINE_KIND:
                metrics.line_crossings += 1
            if payload.get("zone_id") and payload.get("kind") == "zone-violation":
                by_zone[str(payload["zone_id"])] += 1
        if "escalat" in s.kind:
            metrics.escalations += 1
            concerned = s.audience if s.audience else ((s.party_id,) if s.party_id else ())
            for party in concerned:
                escalations[party] += 1
        role = acknowledgement_role(s.kind, payload)
        if role is not None:
            category, item_id, opens = role
            if opens:
                opened.setdefault((category, item_id), time_s)
            elif (category, item_id) in opened:
                # each party's first acknowledgement counts
                acked.setdefault((category, item_id), {}).setdefault(s.party_id, time_s - opened[(category, item_id)])
    metrics.incidents_by_kind = dict(by_kind)
    metrics.zone_violations_by_zone = dict(by_zone)
    metrics.escalations_by_party = dict(escalations)
    for category in ACK_CATEGORIES:
        delays = [d for (c, _), ds in acked.items() if c == category for d in ds.values()]
        waiting = sum(1 for (c, i) in opened if c == category and not acked.get((c, i)))
        stats = DelayStats(acknowledged=len(delays), unacknowledged=waiting)
        if delays:
            stats.mean_s = statistics.fmean(delays)
            stats.median_s = statistics.median(delays)
            stats.max_s = max(delays)
        metrics.ack_delays[category] = stats
    return metrics
