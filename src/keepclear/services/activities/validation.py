"""What is wrong with a new or changed activity before it is stored: its values (the domain's
``activity_problems``), units that are not its party's, an id outside its party's own or used twice
in a batch, an id already stored. A batch's problems are named ``activities[i].`` and bounded.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy.engine import Connection

from keepclear.domain.activities import Activity, ActivityStatus, activity_problems, in_batch, new_id_problem
from keepclear.domain.ids import ID_BITS, MAX_ID_CHARS, RandomBits, random_id
from keepclear.domain.limits import bounded_problems
from keepclear.errors import ConflictError, ValidationError
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.activities.reading import party_ids
from keepclear.store import activities as store
from keepclear.store import registry as registry_store


def new_activity(activity: Activity, status: ActivityStatus, random_bits: RandomBits = secrets.randbits) -> Activity:
    """``activity`` as a new one of ``status``: version 1, not notified yet, an id made up (its
    party's id, a hyphen and 80 random bits: ``domain.ids``) where it has none."""
    if not activity.id:
        activity = replace(activity, id=random_id(activity.party_id, random_bits))
    return replace(activity, version=1, status=status, notified_s=None)


def _made_up_too_long(party_id: str) -> str:
    """The problem of a party whose id leaves no room for an id made up for its activity (a party
    added before party ids were held to ``MAX_PARTY_ID_CHARS``)."""
    return (
        f"id: none given, and the one keepclear makes up ({party_id!r}, a hyphen and {ID_BITS // 4} hex"
        f" digits) would be longer than the {MAX_ID_CHARS} characters an id may have; give the activity"
        f" an id beginning with {party_id + '-'!r}"
    )


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
    random_bits: RandomBits = secrets.randbits,
) -> list[Activity]:
    """``activities`` as new ones of ``status`` (version 1, an id made up from ``random_bits`` where
    missing), or ``ValidationError`` with every problem of every one (a batch's named
    ``activities[i].`` and bounded), or ``ConflictError`` naming the first whose id, given by the
    party, is stored already (a made-up id that is, is drawn again: the party never chose it)."""

    def named(index: int, problem: str) -> str:
        return in_batch(index, problem) if batch else problem

    known = party_ids(conn)
    found: list[str] = []
    valid: list[Activity] = []
    first_of: dict[str, int] = {}
    made_up: set[int] = set()
    for index, activity in enumerate(activities):
        if not activity.id:
            made_up.add(index)
        activity = new_activity(activity, status, random_bits)
        its_problems = new_problems(conn, activity, now_s, config, known)
        if index in made_up and len(activity.id) > MAX_ID_CHARS:
            its_problems = [_made_up_too_long(activity.party_id), *(p for p in its_problems if not p.startswith("id:"))]
        found += [named(index, p) for p in its_problems]
        if index not in made_up:  # a made-up id given twice is drawn again (below)
            if activity.id in first_of:
                found.append(named(index, f"id: {activity.id!r} is also the id of activities[{first_of[activity.id]}]"))
            first_of.setdefault(activity.id, index)
        valid.append(activity)
    if found:
        raise ValidationError(bounded_problems(found, config.max_problems_listed) if batch else found)
    stored = store.stored_ids(conn, [activity.id for activity in valid])
    for index, activity in enumerate(valid):
        if index not in made_up and activity.id in stored:
            where = f"activities[{index}]: " if batch else ""
            raise ConflictError(f"{where}activity {activity.id!r} already exists; amend it instead")
    return _drawn_again_where_taken(conn, valid, made_up, stored, random_bits)


def _drawn_again_where_taken(
    conn: Connection, activities: list[Activity], made_up: set[int], stored: set[str], random_bits: RandomBits
) -> list[Activity]:
    """``activities`` with each made-up id that is stored already (``stored``: those of their ids
    that are), or made up twice in the batch, drawn again (with 80 bits, about never: a repeat among
    n ids of one party has a chance of n²/2⁸¹); only the ids drawn again are looked up again."""
    given = {a.id for i, a in enumerate(activities) if i not in made_up}
    for _ in range(8):
        seen: set[str] = set()
        taken = []
        for i in sorted(made_up):
            if activities[i].id in stored or activities[i].id in given or activities[i].id in seen:
                taken.append(i)
            seen.add(activities[i].id)
        if not taken:
            return activities
        for i in taken:
            activities[i] = replace(activities[i], id=random_id(activities[i].party_id, random_bits))
        stored = store.stored_ids(conn, [activities[i].id for i in taken])
    raise RuntimeError("random_bits: 8 draws in a row gave ids already taken")
