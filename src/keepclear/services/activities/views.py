"""Need-to-know views of activities: what each party may see, as JSON-ready dicts (pure functions).

- The notifier sees everything, and who has and has not acknowledged; of an addressee's escalations
  which roster position was called, never who (a roster is its party's alone).
- An addressee sees kind, time, volumes or route, priority, contact and text; the units only when
  the notifier shared them; never the other addressees; its own escalations with the contacts of its
  roster that were called.
- Any other party sees nothing of the activity, not even its id (a name its notifier chose, which can
  say what it is): a conflict with one of its own activities is shown on that activity of its own
  (``overlapped_by``), the overlap only (where, when, which band).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping

from keepclear.detect.strategic import Conflict
from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.domain.timefmt import format_utc
from keepclear.geo.activity_doc import activity_to_document
from keepclear.services.policy import activity_addressed, sees_party_data_of
from keepclear.store.activity_acks import AckState, EscalationStep
from keepclear.store.activity_conflicts import EMPTY, Capped, StoredConflict


@dataclass(frozen=True)
class ActivityState:
    """An activity's current version and where everyone stands on it; ``conflicts``: the first of
    those its check found, as found, and how many it found (none read for an addressee)."""

    activity: Activity
    addressees: frozenset[str]
    acks: list[AckState]
    conflicts: Capped
    escalations: list[EscalationStep]
    required_notice_s: float | None
    given_notice_s: float | None


def _time(time_s: float | None) -> str | None:
    return None if time_s is None else format_utc(time_s)


def addressee_view(activity: Activity) -> dict[str, Any]:
    """What an addressee sees: no addressee list, and units only when shared."""
    document = activity_to_document(activity, units=activity.share_units)
    document.pop("addressees", None)
    document.pop("share_units", None)
    document["version"] = activity.version
    document["status"] = activity.status.value
    document["notified"] = _time(activity.notified_s)
    return document


def conflict_view(conflict: Conflict) -> dict[str, Any]:
    """What the party whose activity is overlapped sees: the overlap only."""
    return {
        "your_activity_id": conflict.target_id,
        "your_activity_version": conflict.target_version,
        "geometry": mapping(conflict.geometry),
        "start": format_utc(conflict.start_s),
        "end": format_utc(conflict.end_s),
        "lower_ft": conflict.lower_ft,
        "upper_ft": conflict.upper_ft,
    }


def notifier_conflict(activity_id: str, version: int, conflict: Conflict) -> dict[str, Any]:
    """A conflict as the notifier sees it: with what, where, when, why."""
    view: dict[str, Any] = {
        "activity_id": activity_id,
        "version": version,
        "kind": conflict.kind.value,
        "target_id": conflict.target_id,
        "target_party": conflict.target_party_id,
        "target_version": conflict.target_version,
        "geometry": mapping(conflict.geometry),
        "start": format_utc(conflict.start_s),
        "end": format_utc(conflict.end_s),
        "lower_ft": conflict.lower_ft,
        "upper_ft": conflict.upper_ft,
        "reason": conflict.reason,
    }
    if conflict.required_notice_s is not None:
        view["required_notice_s"] = conflict.required_notice_s
        view["given_notice_s"] = conflict.given_notice_s
    return view


def conflicts_view(conflicts: Capped) -> list[dict[str, Any]]:
    """The ``conflicts`` the notifier is shown: the first its check found, as found."""
    return [notifier_conflict(c.activity_id, c.version, c.conflict) for c in conflicts.shown]


def _ack(ack: AckState) -> dict[str, Any]:
    return {
        "party": ack.party_id,
        "state": ack.state,
        "reason": ack.reason,
        "answered": _time(ack.answered_s),
        "due": _time(ack.due_s),
        "escalation_level": ack.level,
        "roster_exhausted": ack.exhausted,
    }


def _own_escalation(e: EscalationStep) -> dict[str, Any]:
    """One escalation of an addressee's acknowledgement as that addressee sees it: the contact of its
    own roster that was called (the notifier is shown the position only: a roster is its party's alone)."""
    return {
        "version": e.version,
        "level": e.level,
        "contact_name": e.contact_name,
        "contact_role": e.contact_role,
        "roster_exhausted": e.contact_name is None,
        "time": format_utc(e.time_s),
    }


def notifier_view(state: ActivityState) -> dict[str, Any]:
    """What the notifier sees: everything, and who has and has not acknowledged."""
    activity = state.activity
    document = activity_to_document(activity)
    document["addressees"] = sorted(state.addressees)
    document["addressed_to_all"] = activity.addressees is None
    document["version"] = activity.version
    document["status"] = activity.status.value
    document["notified"] = _time(activity.notified_s)
    document["acknowledgements"] = [_ack(a) for a in state.acks]
    document["acknowledged"] = sorted(a.party_id for a in state.acks if a.state == "acknowledged")
    document["objected"] = sorted(a.party_id for a in state.acks if a.state == "objected")
    document["not_acknowledged"] = sorted(a.party_id for a in state.acks if a.state == "pending")
    document["conflicts"] = conflicts_view(state.conflicts)
    document["conflicts_total"] = state.conflicts.total
    document["escalations"] = [
        {
            "version": e.version,
            "party": e.party_id,
            "level": e.level,
            "roster_exhausted": e.contact_name is None,
            "time": format_utc(e.time_s),
        }
        for e in state.escalations
    ]
    late = (
        state.required_notice_s is not None
        and state.given_notice_s is not None
        and state.given_notice_s < state.required_notice_s
    )
    document["notice"] = {
        "required_s": state.required_notice_s,
        "given_s": state.given_notice_s,
        "late": late,
    }
    return document


def overlap_view(stored: StoredConflict) -> dict[str, Any]:
    """One entry of ``overlapped_by``: the overlap only, and when it was found."""
    return {**conflict_view(stored.conflict), "found": format_utc(stored.detected_s)}


def view_for(
    state: ActivityState, party_id: str, overlaps: Mapping[str, Capped] | None = None
) -> dict[str, Any] | None:
    """The view of ``state`` that ``party_id`` may have, or None when it may see none.

    ``overlaps``, by activity id, are the first conflicts other parties' activities recorded against
    ``party_id``'s own and their count (``ActivityService.overlaps_of``): this one's, when it is the
    caller's, are its ``overlapped_by`` (most recently found first) and ``overlapped_by_total``.
    """
    activity = state.activity
    if sees_party_data_of(party_id, activity.party_id):
        view = notifier_view(state)
        found = (overlaps or {}).get(activity.id, EMPTY)
        view["overlapped_by"] = [overlap_view(c) for c in found.shown]
        view["overlapped_by_total"] = found.total
        return view
    if activity_addressed(party_id, activity.party_id, activity.status is ActivityStatus.DRAFT, state.addressees):
        view = addressee_view(activity)
        mine = next((a for a in state.acks if a.party_id == party_id), None)
        view["your_acknowledgement"] = None if mine is None else _ack(mine)
        view["your_escalations"] = [_own_escalation(e) for e in state.escalations if e.party_id == party_id]
        return view
    return None
