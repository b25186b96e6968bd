"""Which event kinds the shared record keeps, listed kind by kind (no prefix matching).

Every ``EventKind`` is in exactly one of ``RECORDED_KINDS`` and ``NOT_RECORDED``, the latter with the
reason; ``tests/record/test_record_kinds.py`` fails on a kind in neither, so a new kind is a decision.
"""

from __future__ import annotations

from types import MappingProxyType

from keepclear.domain.event_kinds import ACTIVITY_KINDS, ALERT_KINDS, INCIDENT_KINDS, EventKind

#: Event kinds the signer writes to the ledger: notifications, acknowledgements, objections and the
#: activity lifecycle; hotline threads, messages, receipts and escalations; alert changes; parties,
#: their rosters and availability; forces, units, zone imports and proposals, API keys; incidents. Never track reports.
RECORDED_KINDS: frozenset[EventKind] = (
    ACTIVITY_KINDS
    | ALERT_KINDS
    | INCIDENT_KINDS
    | {
        EventKind.THREAD_CREATED,
        EventKind.MESSAGE_POSTED,
        EventKind.MESSAGE_RECEIPT,
        EventKind.HOTLINE_ESCALATED,
        EventKind.PARTY_ADDED,
        EventKind.PARTY_ROSTER_SET,
        EventKind.PARTY_AVAILABILITY,
        EventKind.FORCE_ADDED,
        EventKind.UNIT_ADDED,
        EventKind.ZONES_IMPORTED,
        EventKind.PROPOSAL_SUBMITTED,
        EventKind.PROPOSAL_ACCEPTED,
        EventKind.PROPOSAL_REFUSED,
        EventKind.APIKEY_CREATED,
        EventKind.APIKEY_REVOKED,
    }
)

#: Recorded kinds whose state lives only in memory (the probe's alert book): recorded when the bus
#: delivers them, not staged by a transaction. A crash loses them with the state they describe.
IN_MEMORY_KINDS: frozenset[EventKind] = ALERT_KINDS

_TACTICAL = "tactical observation of a unit: the incident it may open is recorded, not every sighting"
_LEDGER = "the ledger writes it itself (public to every party); never staged from the bus"

#: Kinds the signer does not record from the bus, each with the reason.
NOT_RECORDED: MappingProxyType[EventKind, str] = MappingProxyType(
    {
        EventKind.ZONE_ENTERED: _TACTICAL,
        EventKind.ZONE_LINE_CROSSED: _TACTICAL,
        EventKind.ZONE_ENTRY_PREDICTED: _TACTICAL,
        EventKind.MESSAGE_REFERENCED: "an item of an incident's timeline, kept with the incident; never on the bus",
        EventKind.LEDGER_GENESIS: _LEDGER,
        EventKind.KEY_REGISTERED: _LEDGER,
        EventKind.KEY_ROTATED: _LEDGER,
    }
)
