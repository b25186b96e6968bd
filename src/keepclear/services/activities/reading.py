"""What the activity service reads back of stored activities: the current version of one (unknown
when missing), who an activity is addressed to, and the states of many in a bounded number of
statements. Shared by the writes, which judge from them who may change or answer what, and the reads.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy.engine import Connection

from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.errors import NotFoundError
from keepclear.services.activities.views import ActivityState
from keepclear.services.policy import activity_addressed, unknown
from keepclear.store import activities as store
from keepclear.store import activity_acks as acks_store
from keepclear.store import activity_conflicts as conflicts_store
from keepclear.store import registry as registry_store
from keepclear.store.activity_acks import AckState


def party_ids(conn: Connection) -> frozenset[str]:
    """The id of every party."""
    return frozenset(p.id for p in registry_store.list_parties(conn))


def current_activity(conn: Connection, activity_id: str) -> Activity:
    """The current version of ``activity_id``; a missing one answers as one the caller may not see."""
    try:
        return store.get_activity(conn, activity_id)
    except NotFoundError:
        raise NotFoundError(unknown("activity", activity_id)) from None


class OtherParties:
    """Every party of the deployment but one (an activity addressed to everyone is addressed to
    every party but its own), the parties read once, when first needed."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._all: frozenset[str] | None = None

    def than(self, party_id: str) -> frozenset[str]:
        """Every party but ``party_id``."""
        if self._all is None:
            self._all = party_ids(self._conn)
        return self._all - {party_id}


def addressees_from(activity: Activity, acks: Sequence[AckState]) -> frozenset[str] | None:
    """Who ``activity`` (current version, ``acks`` its acknowledgements) is addressed to: none while
    a draft, its list, or every party its notification opened an acknowledgement for; None when
    it was addressed to every other party and opened none (then every other party now is)."""
    if activity.status is ActivityStatus.DRAFT:
        return frozenset()
    if activity.addressees is not None:
        return activity.addressees
    if acks:
        return frozenset(a.party_id for a in acks)
    return None


def addressees(conn: Connection, activity: Activity) -> frozenset[str]:
    """Who ``activity`` (current version) is addressed to."""
    acks = [] if activity.status is ActivityStatus.DRAFT else acks_store.get_acks(conn, activity.id, activity.version)
    found = addressees_from(activity, acks)
    return OtherParties(conn).than(activity.party_id) if found is None else found


def addressed(conn: Connection, activity: Activity, party_id: str) -> bool:
    """Whether ``activity`` (current version) is addressed to ``party_id`` (the policy's word)."""
    draft = activity.status is ActivityStatus.DRAFT
    return activity_addressed(party_id, activity.party_id, draft, () if draft else addressees(conn, activity))


def states(
    conn: Connection,
    current: Sequence[store.CurrentVersion],
    most_conflicts: int,
    conflicts_of: Collection[str] | None = None,
) -> list[ActivityState]:
    """The states of ``current`` activities: four statements for all of them (five when one
    addressed to everyone opened no acknowledgement), not one per activity. The conflicts are read
    for those of ``conflicts_of`` only (None: all): an addressee never sees them; and of those, the
    first ``most_conflicts`` each, as found, and their counts: how many a check finds depends on
    what others notified in the same space and time."""
    ids = [c.activity.id for c in current]
    acks = acks_store.acks_of_current(conn, ids)
    conflicts = conflicts_store.conflicts_of(
        conn, ids if conflicts_of is None else [i for i in ids if i in conflicts_of], most_conflicts
    )
    escalations = acks_store.escalations_of(conn, ids)
    others = OtherParties(conn)
    out = []
    for c in current:
        activity = c.activity
        found = addressees_from(activity, acks[activity.id])
        if found is None:
            found = others.than(activity.party_id)
        out.append(
            ActivityState(
                activity=activity,
                addressees=found,
                acks=acks[activity.id],
                conflicts=conflicts.get(activity.id, conflicts_store.EMPTY),
                escalations=escalations[activity.id],
                required_notice_s=c.required_notice_s,
                given_notice_s=c.given_notice_s,
            )
        )
    return out
