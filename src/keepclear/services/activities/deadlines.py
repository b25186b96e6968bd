"""Acknowledgement deadlines: one roster step on for overdue acknowledgements, a bounded batch at a
time in the writer's transaction (the service commits it, then tells of the steps).

The notification went to roster position 0; each overdue deadline calls the next position and
starts the same deadline again; past the end of the roster the step is recorded with no contact
(``roster exhausted``) and the deadline stops. Either way the acknowledgement is no longer due now,
so the next batch takes the next ones.
"""

from __future__ import annotations

from sqlalchemy.engine import Connection

from keepclear.services.activities import reading
from keepclear.store import activity_acks as acks_store
from keepclear.store import activity_log as log_store
from keepclear.store import registry as registry_store
from keepclear.store.activity_acks import EscalationStep


def escalate_overdue(conn: Connection, now_s: float, limit: int) -> list[tuple[EscalationStep, str]]:
    """Up to ``limit`` acknowledgements overdue at ``now_s``, oldest first, one step on: each step and
    the party that notified its activity (who is told)."""
    steps: list[tuple[EscalationStep, str]] = []
    for activity_id, ack in acks_store.overdue_acks(conn, now_s, limit=limit):
        roster = registry_store.get_roster(conn, ack.party_id)
        level = ack.level + 1
        if level < len(roster):
            contact = roster[level]
            step = EscalationStep(activity_id, ack.version, ack.party_id, level, contact.name, contact.role, now_s)
            acks_store.escalate_ack(conn, step, now_s + ack.deadline_s)
        else:
            step = EscalationStep(activity_id, ack.version, ack.party_id, level, None, None, now_s)
            acks_store.escalate_ack(conn, step, None)
        notifier = reading.current_activity(conn, activity_id).party_id
        log_store.log_change(conn, activity_id, ack.version, "escalated", ack.party_id, now_s, step.contact_name or "")
        steps.append((step, notifier))
    return steps
