"""Opening checked activity versions: each addressee's acknowledgement with its deadline, the
conflicts the check found, the change logged, each in one statement for a whole batch, and the
result and state the notifier is answered with, made from what was written (not read back).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from keepclear.detect.strategic import CheckResult, ConflictKind, IndexedActivity
from keepclear.domain.activities import LIVE_STATUSES, Activity
from keepclear.services.activities.checking import Checked
from keepclear.services.activities.config import MINUTE_S, ActivityConfig
from keepclear.services.activities.reading import OtherParties
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.views import ActivityState
from keepclear.store import activity_acks as acks_store
from keepclear.store import activity_conflicts as conflicts_store
from keepclear.store import activity_log as log_store
from keepclear.store.activity_acks import AckState, EscalationStep
from keepclear.store.activity_conflicts import Capped, StoredConflict
from keepclear.store.activity_log import LogEntry


@dataclass(frozen=True)
class Opened:
    """What ``open_checked`` did for one activity: the result, the activity as indexed (None: not
    live), its log seq."""

    result: NotifyResult
    subject: IndexedActivity | None
    seq: int


def _capped(activity: Activity, check: CheckResult, now_s: float, most: int) -> Capped:
    """What ``get`` would read of ``activity``'s conflicts: the first ``most`` its check found, as
    found (as recorded), and how many."""
    found = check.conflicts[:most]
    return Capped(tuple(StoredConflict(activity.id, activity.version, c, now_s) for c in found), len(check.conflicts))


def notice_s(config: ActivityConfig, activity: Activity, now_s: float) -> tuple[float, float]:
    """(required, given) seconds of notice of ``activity`` notified at ``now_s``."""
    return config.strategic.min_notice_s(activity.kind), activity.start_s - now_s


def open_checked(
    conn: Connection,
    checked: Sequence[Checked],
    now_s: float,
    change: str,
    escalations: list[EscalationStep],
    config: ActivityConfig,
) -> list[Opened]:
    """For each checked activity (stored): open its acknowledgements, record its conflicts and
    log ``change``, each in one statement for all; ``escalations``: what ``get`` would read of
    them (a new version has none)."""
    others = OtherParties(conn)
    plans: list[tuple[Activity, CheckResult, frozenset[str], dict[str, float]]] = []
    for activity, _, check in checked:
        addressees = others.than(activity.party_id) if activity.addressees is None else activity.addressees
        conflicting = {c.target_party_id for c in check.conflicts if c.kind is ConflictKind.ACTIVITY}
        deadlines = {
            party: config.conflict_ack_deadline_s
            if party in conflicting
            else config.ack_deadline_s_by_priority.get(activity.priority, 15 * MINUTE_S)
            for party in addressees
        }
        plans.append((activity, check, addressees, deadlines))
    acks_store.insert_acks(conn, [(a.id, a.version, deadlines) for a, _, _, deadlines in plans], now_s)
    conflicts_store.insert_conflicts(conn, [(a.id, a.version, check.conflicts) for a, check, _, _ in plans], now_s)
    seqs = log_store.log_changes(
        conn,
        [
            LogEntry(
                a.id,
                a.version,
                change,
                a.party_id,
                f"{len(check.conflicts)} conflicts" + (", late notice" if check.late_notice else ""),
            )
            for a, check, _, _ in plans
        ],
        now_s,
    )
    opened: list[Opened] = []
    for (activity, check, addressees, deadlines), (_, subject, _), seq in zip(plans, checked, seqs, strict=True):
        required_s, given_s = notice_s(config, activity, now_s)
        state = ActivityState(
            activity=activity,
            addressees=addressees,
            acks=[
                AckState(party, activity.version, "pending", "", None, now_s + deadline_s, deadline_s, 0, False)
                for party, deadline_s in sorted(deadlines.items())
            ],
            conflicts=_capped(activity, check, now_s, config.view_max_conflicts),
            escalations=escalations,
            required_notice_s=required_s,
            given_notice_s=given_s,
        )
        live = subject if activity.status in LIVE_STATUSES else None
        opened.append(Opened(NotifyResult(activity, check, addressees, state), live, seq))
    return opened
