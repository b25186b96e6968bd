"""Every kind of event keepclear emits, in one place (docs/architecture.md, "Event flow", has the table).

A kind is a dotted lower-case name (``alert.raised``); the value is what the record, the streams, the
hotline's system messages and the wire carry, so a member's value never changes once released. Code
names kinds by member (``EventKind.ALERT_RAISED``), never by text: ``tests/foundation/test_event_kinds.py``
fails on a quoted kind anywhere else in ``src``. Families (``ALERT_KINDS``...) replace prefix tests.
"""

from __future__ import annotations

from enum import StrEnum


class EventKind(StrEnum):
    """What happened. Each member's comment says who emits it and what it means."""

    # ---- activities (services/activities): notifications of planned activity and their answers
    #: A party notified an activity to its addressees (payload: the addressee view, conflict count).
    ACTIVITY_NOTIFIED = "activity.notified"
    #: The notifier amended an activity: a new version, told to the (possibly changed) addressees.
    ACTIVITY_AMENDED = "activity.amended"
    #: An amendment dropped addressees: they are told the activity no longer concerns them.
    ACTIVITY_WITHDRAWN = "activity.withdrawn"
    #: An activity was notified with less notice than its kind requires.
    ACTIVITY_LATE_NOTICE = "activity.late_notice"
    #: A notified activity conflicts with another activity or a zone (one event per side told).
    ACTIVITY_CONFLICT = "activity.conflict"
    #: An addressee let its acknowledgement deadline pass: the notifier's watch is told.
    ACTIVITY_ESCALATED = "activity.escalated"
    #: An addressee acknowledged a version of an activity.
    ACTIVITY_ACKNOWLEDGED = "activity.acknowledged"
    #: An addressee objected to a version of an activity, with a reason.
    ACTIVITY_OBJECTED = "activity.objected"
    #: The notifier started the activity.
    ACTIVITY_ACTIVATED = "activity.activated"
    #: The notifier completed the activity.
    ACTIVITY_COMPLETED = "activity.completed"
    #: The notifier cancelled the activity, with a reason.
    ACTIVITY_CANCELLED = "activity.cancelled"

    # ---- alerts (detect/alerts.py through services/tactical): the probe's conflict alerts
    #: The probe raised an alert on a pair of units (payload: AlertChange).
    ALERT_RAISED = "alert.raised"
    #: An active alert's level went up or down (payload: AlertChange).
    ALERT_LEVEL_CHANGED = "alert.level_changed"
    #: An alert ended: the pair is clear (payload: AlertChange).
    ALERT_RESOLVED = "alert.resolved"
    #: An alerted pair actually lost separation (payload: SeparationLost).
    ALERT_SEPARATION_LOST = "alert.separation_lost"
    #: A party the alert concerns acknowledged it (payload: AlertAcknowledged).
    ALERT_ACKNOWLEDGED = "alert.acknowledged"
    #: A witness found two parties' copies of the record inconsistent (services/record/witness.py).
    ALERT_RECORD_INCONSISTENT = "alert.record_inconsistent"

    # ---- zones (detect/zoneprobe.py, services/tactical, services/zones)
    #: A unit entered a zone it is not permitted in (payload: ZoneEntered).
    ZONE_ENTERED = "zone.entered"
    #: A unit crossed a deconfliction line (payload: LineCrossed).
    ZONE_LINE_CROSSED = "zone.line_crossed"
    #: A unit is predicted to enter a zone within the look-ahead (payload: ZoneEntryPredicted).
    ZONE_ENTRY_PREDICTED = "zone.entry_predicted"
    #: A zone set was imported (payload: ZonesImported); the tactical service reloads its zones.
    ZONES_IMPORTED = "zones.imported"

    # ---- zone proposals (services/zones/proposals.py): shapes a party drew, for an admin to decide
    #: A party proposed a shape as a zone, or redrew its pending proposal (the geometry by hash).
    PROPOSAL_SUBMITTED = "proposal.submitted"
    #: An admin accepted a proposal as a zone (the zone itself is ``zones.imported``).
    PROPOSAL_ACCEPTED = "proposal.accepted"
    #: An admin refused a proposal, with the reason.
    PROPOSAL_REFUSED = "proposal.refused"

    # ---- hotline (services/hotline): threads, messages and their receipts
    #: A thread was opened between parties.
    THREAD_CREATED = "thread.created"
    #: A message was posted to a thread (payload: MessagePosted).
    MESSAGE_POSTED = "message.posted"
    #: A member read or acknowledged messages of a thread (payload: MessageReceipt).
    MESSAGE_RECEIPT = "message.receipt"
    #: An unacknowledged message passed its deadline: the escalation party is told.
    HOTLINE_ESCALATED = "hotline.escalated"

    # ---- registry (services/registry): parties, forces, units, API keys
    #: A party joined the deployment (the hotline opens its standing lines).
    PARTY_ADDED = "party.added"
    #: A party's watch roster was set.
    PARTY_ROSTER_SET = "party.roster_set"
    #: A party's availability changed (payload: PartyAvailability).
    PARTY_AVAILABILITY = "party.availability"
    #: A force was registered.
    FORCE_ADDED = "force.added"
    #: A unit was registered (payload: UnitAdded); the track ingest learns it.
    UNIT_ADDED = "unit.added"
    #: An API key was created (never its secret).
    APIKEY_CREATED = "apikey.created"
    #: An API key was revoked.
    APIKEY_REVOKED = "apikey.revoked"

    # ---- incidents (services/incidents)
    #: An incident was opened from a triggering event (payload: IncidentOpened).
    INCIDENT_OPENED = "incident.opened"
    #: A party added its account of an incident.
    INCIDENT_ACCOUNT_ADDED = "incident.account_added"
    #: An incident's joint review status changed.
    INCIDENT_REVIEW_CHANGED = "incident.review_changed"
    #: An incident's evidence was frozen (its SHA-256 recorded).
    INCIDENT_EVIDENCE_FROZEN = "incident.evidence_frozen"
    #: An incident's timeline names a hotline message (a timeline item, not a bus event).
    MESSAGE_REFERENCED = "message.referenced"

    # ---- the ledger's own entries (keepclear.ledger writes them itself; never on the bus)
    #: The first entry of every ledger: the deployment's identity.
    LEDGER_GENESIS = "ledger.genesis"
    #: A party's signing key registered.
    KEY_REGISTERED = "key.registered"
    #: A party's signing key rotated.
    KEY_ROTATED = "key.rotated"

    @property
    def family(self) -> str:
        """The part before the first dot: ``alert`` for ``alert.raised``."""
        return self.value.partition(".")[0]

    @property
    def action(self) -> str:
        """The part after the first dot: ``raised`` for ``alert.raised``."""
        return self.value.partition(".")[2]


def _family(name: str) -> frozenset[EventKind]:
    return frozenset(k for k in EventKind if k.family == name)


#: Every kind about activities (``activity.*``).
ACTIVITY_KINDS = _family("activity")
#: Every kind about alerts (``alert.*``).
ALERT_KINDS = _family("alert")
#: The alert changes the probe's tick produces, each with an ``AlertChange`` payload.
ALERT_CHANGE_KINDS = frozenset({EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED, EventKind.ALERT_RESOLVED})
#: Every kind about zones and lines (``zone.*``; not ``zones.imported``).
ZONE_KINDS = _family("zone")
#: Every kind about incidents (``incident.*``).
INCIDENT_KINDS = _family("incident")
#: Every kind about hotline messages (``message.*``).
MESSAGE_KINDS = _family("message")
#: The entries the ledger writes itself (public to every party, never staged by a service).
LEDGER_KINDS = frozenset({EventKind.LEDGER_GENESIS, EventKind.KEY_REGISTERED, EventKind.KEY_ROTATED})
