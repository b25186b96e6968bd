"""An incident's evidence: the involved units' tracks within ``evidence_window_s`` of the incident
time, its alert history and related messages, as canonical JSON with its SHA-256, and the check of
a stored document against its hash. Built here; ``IncidentService.freeze_due`` stores it and emits
``incident.evidence_frozen`` carrying the hash, so the ledger holds the evidence by hash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from keepclear.domain.event_kinds import ALERT_KINDS, MESSAGE_KINDS, EventKind
from keepclear.domain.incidents import Incident, TimelineItem
from keepclear.domain.tracks import TrackReport
from keepclear.errors import KeepclearError
from keepclear.ledger import Ledger
from keepclear.ledger.canonical import canonical_text, sha256_hex
from keepclear.ledger.model import time_us_of
from keepclear.ledger.refs import indexable

__all__ = ["checked_evidence", "document_text", "history", "window_tracks"]

#: Timeline items an incident's report lists as messages: hotline messages and escalations.
_MESSAGE_ITEM_KINDS = MESSAGE_KINDS | {EventKind.HOTLINE_ESCALATED}


def _report_json(report: TrackReport) -> dict[str, Any]:
    return {
        "unit_id": report.unit_id,
        "time_s": report.time_s,
        "lat_deg": report.lat_deg,
        "lon_deg": report.lon_deg,
        "alt_m": report.alt_m,
        "vel_east_mps": report.vel_east_mps,
        "vel_north_mps": report.vel_north_mps,
        "vel_up_mps": report.vel_up_mps,
    }


def _item_json(item: TimelineItem) -> dict[str, Any]:
    return {"time_s": item.time_s, "kind": item.kind, "party_id": item.party_id, "payload": item.payload}


def window_tracks(
    incident: Incident, provided: Sequence[TrackReport], start_s: float, end_s: float
) -> list[TrackReport]:
    """Of the reports a track-history provider gave, those of the incident's units in
    ``[start_s, end_s]``, by unit then time."""
    tracks = [r for r in provided if r.unit_id in incident.unit_ids and start_s <= r.time_s <= end_s]
    tracks.sort(key=lambda r: (r.unit_id, r.time_s))
    return tracks


def history(
    incident: Incident, timeline: Sequence[TimelineItem], ledger: Ledger | None, start_s: float, end_s: float
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Alert history and related messages: from the ledger when there is one (it also holds what
    happened before the incident was opened, e.g. the alert's earlier levels), else the timeline."""
    alerts = [_item_json(t) for t in timeline if t.kind in ALERT_KINDS]
    messages = [_item_json(t) for t in timeline if t.kind in _MESSAGE_ITEM_KINDS]
    if ledger is None:
        return alerts, messages
    # Text only: a recorded payload is any JSON, and a list or an object there must not stop a freeze.
    message_ids = {m for t in timeline if (m := _text(t.payload, "message_id")) is not None}
    # Only an entry naming one of these at its top level is kept (below): read those alone, through
    # the record's index of the ids payloads name, not every party's alerts and messages in the
    # window; the whole window only when one of them cannot be in that index (not text, too long).
    named = {*incident.alert_ids, incident.id, *message_ids}
    indexed = {ref for ref in named if indexable(ref)}
    refs = indexed if len(indexed) == len(named) else None
    kinds = ALERT_KINDS | _MESSAGE_ITEM_KINDS
    alerts, messages = [], []
    for entry in ledger.entries(kinds=kinds, from_s=start_s, until_s=end_s + 1e-6, refs=refs):
        payload = entry.payload_value()
        if not isinstance(payload, dict):
            continue
        item = {
            "time_s": entry.statement.time_us / 1e6,
            "kind": entry.statement.kind,
            "party_id": entry.statement.party_id,
            "payload": payload,
            "ledger_seq": entry.seq,
        }
        linked_alert = payload.get("alert_id") in incident.alert_ids
        if entry.statement.kind in ALERT_KINDS:
            if linked_alert:
                alerts.append(item)
        elif linked_alert or payload.get("incident_id") == incident.id or _text(payload, "message_id") in message_ids:
            messages.append(item)
    return alerts, messages


def _text(payload: dict[str, Any], key: str) -> str | None:
    """``payload[key]`` when it is text (a set of ids is looked up with it), else None."""
    value = payload.get(key)
    return value if isinstance(value, str) else None


def document_text(
    incident: Incident,
    tracks: Sequence[TrackReport],
    alerts: list[dict[str, Any]],
    messages: list[dict[str, Any]],
    start_s: float,
    end_s: float,
) -> tuple[str, str]:
    """The evidence document of ``incident`` as canonical JSON, and its SHA-256 (hex)."""
    document = {
        "incident_id": incident.id,
        "window": {"from_us": time_us_of(start_s), "until_us": time_us_of(end_s)},
        "unit_ids": list(incident.unit_ids),
        "tracks": [_report_json(r) for r in tracks],
        "alerts": alerts,
        "messages": messages,
    }
    text = canonical_text(document)
    return text, sha256_hex(text.encode("utf-8"))


def checked_evidence(incident_id: str, digest: str, text: str) -> dict[str, Any]:
    """The stored evidence document ``text`` of ``incident_id``, read back once it matches its
    stored hash ``digest`` (``KeepclearError`` otherwise)."""
    if sha256_hex(text.encode("utf-8")) != digest:
        raise KeepclearError(f"incident {incident_id}: stored evidence does not match its hash {digest}")
    value: dict[str, Any] = json.loads(text)
    return value
