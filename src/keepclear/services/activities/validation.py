"""What is wrong with a new or changed activity before it is stored: its values (the domain's
``activity_problems``), units that are not its party's, an id outside its party's own or used twice
in a batch, an id already stored. A batch's problems are named ``activities[i].`` and bounded.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection

from keepclear.domain.activities import Activity, ActivityStatus, activity_problems, in_batch, new_id_problem
from keepclear.domain.limits import bounded_problems
from keepclear.errors import ConflictError, ValidationError
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.activities.reading import party_ids
from keepclear.store import activities as store
from keepclear.store import registry as registry_store


def new_activity(activity: Activity, status: ActivityStatus) -> Activity:
    """``activity`` as a new one of ``status``: version 1, not notified yet, an id made up (its
    party's id, a hyphen and 10 random hex digits) where it has none."""
    if not activity.id:
        activity = replace(activity, id=f"{activity.party_id}-{uuid.uuid4().hex[:10]}")
    return replace(activity, version=1, status=status, notified_s=None)


def problems(
    conn: Connection, activity: Activity, now_s: float, config: ActivityConfig, known: frozenset[str] | None = None
) -> list[str]:
    """What is wrong with ``activity`` (``known``: the party ids, when already read)."""
    if known is None:
        known = party_ids(conn)
    found = activity_problems(activity, known_parties=known, now_s=now_s, max_ahead_s=config.max_ahead_s)
    if activity.party_id in known and activity.units:
        own_units = {unit.id for unit, _ in registry_store.list_units(conn, activity.party_id)}
        for index, unit_id in enumerate(activity.units):
            if unit_id not in own_units:
                found.append(f"units[{index}]: {unit_id!r} is not a unit of {activity.party_id}'s forces")
    return found


def new_problems(
    conn: Connection, activity: Activity, now_s: float, config: ActivityConfig, known: frozenset[str]
) -> list[str]:
    """What is wrong with new ``activity``: its values, and an id outside its party's own
    (judged first, so an id that could name another party's activity is never looked up)."""
    found = problems(conn, activity, now_s, config, known)
    id_problem = new_id_problem(activity.id, activity.party_id, known)
    return found if id_problem is None else [id_problem, *found]


def validated(
    conn: Connection,
    activities: Sequence[Activity],
    now_s: float,
    status: ActivityStatus,
    config: ActivityConfig,
    *,
    batch: bool,
) -> list[Activity]:
    """``activities`` as new ones of ``status`` (version 1, an id made up where missing), or
    ``ValidationError`` with every problem of every one (a batch's named ``activities[i].`` and
    bounded), or ``ConflictError`` naming the first whose id is stored already."""

    def named(index: int, problem: str) -> str:
        return in_batch(index, problem) if batch else problem

    known = party_ids(conn)
    found: list[str] = []
    valid: list[Activity] = []
    first_of: dict[str, int] = {}
    for index, activity in enumerate(activities):
        activity = new_activity(activity, status)
        found += [named(index, p) for p in new_problems(conn, activity, now_s, config, known)]
        if activity.id in first_of:
            found.append(named(index, f"id: {activity.id!r} is also the id of activities[{first_of[activity.id]}]"))
        first_of.setdefault(activity.id, index)
        valid.append(activity)
    if found:
        raise ValidationError(bounded_problems(found, config.max_problems_listed) if batch else found)
    stored = store.stored_ids(conn, [activity.id for activity in valid])
    for index, activity in enumerate(valid):
        if activity.id in stored:
            where = f"activities[{index}]: " if batch else ""
            raise ConflictError(f"{where}activity {activity.id!r} already exists; amend it instead")
    return valid
