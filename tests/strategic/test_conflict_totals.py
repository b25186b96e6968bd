"""The totals of an activity's conflicts, kept as they are recorded, are the counts of the rows they
stand for, on SQLite and PostgreSQL.

``overlapped_by_total`` is how many conflicts the current versions of others' activities recorded
against an activity (an amendment ends what its earlier version recorded; a cancellation or
completion ends nothing), ``conflicts_total`` how many the check of its current version found. Both
were counts over the conflict rows; now the heads and versions keep them (``record``,
``supersede``), and the migration fills them for what was stored before. The oracle here is the
count the reads used to run.
"""

from __future__ import annotations

import random
from typing import Any

import pytest
import sqlalchemy as sa
from shapely.geometry import box
from test_strategic_service import plan, world  # noqa: F401 (the fixture)

from keepclear.domain.activities import ActivityStatus
from keepclear.domain.zones import Zone, ZoneKind, ZoneRules
from keepclear.errors import ConflictError
from keepclear.services.activities.service import ActivityService
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import zones as zone_store
from keepclear.store.activity_schema import activities, activity_conflicts, activity_versions, of_current_version

PARTIES = ("coalition", "russia", "un")
#: Where activities are put: near enough to overlap some and not others, one of them in the zone.
LONS = (38.0, 38.04, 38.08, 38.3)


def _counted(deployment: Deployment) -> dict[str, Any]:
    """What the store keeps, and what counting the rows gives (the reads' old statements)."""
    c = activity_conflicts
    recorder = activities.alias("recorder")
    current = sa.and_(recorder.c.id == c.c.activity_id, recorder.c.current_version == c.c.version)
    against = (
        sa.select(sa.func.count())
        .select_from(c.join(recorder, current))
        .where(c.c.target_id == activities.c.id, c.c.target_party_id == activities.c.party_id)
    )
    found = sa.select(sa.func.count()).where(
        c.c.activity_id == activities.c.id, c.c.version == activities.c.current_version
    )
    query = sa.select(
        activities.c.id,
        activities.c.overlapped_by_total,
        against.scalar_subquery().label("against"),
        activity_versions.c.conflicts_total,
        found.scalar_subquery().label("found"),
    ).join_from(activities, activity_versions, of_current_version(activity_versions))
    of_current = sa.select(activities.c.current_version).where(activities.c.id == c.c.activity_id)
    wrongly_marked = sa.select(sa.func.count()).where(c.c.superseded == (c.c.version == of_current.scalar_subquery()))
    with deployment.db.read() as conn:
        rows = conn.execute(query.order_by(activities.c.id)).all()
        marked = conn.execute(wrongly_marked).scalar_one()
        recorded = conn.execute(sa.select(sa.func.count()).select_from(c)).scalar_one()
    return {
        "overlapped_by_total": {r.id: r.overlapped_by_total for r in rows},
        "overlaps_counted": {r.id: r.against for r in rows},
        "conflicts_total": {r.id: r.conflicts_total for r in rows},
        "conflicts_counted": {r.id: r.found for r in rows},
        "superseded_wrongly": marked,
        "recorded": recorded,
    }


def _agree(deployment: Deployment, service: ActivityService) -> dict[str, Any]:
    """Assert the kept totals are the counts, as stored and as the reads answer; return them."""
    counted = _counted(deployment)
    assert counted["overlapped_by_total"] == counted["overlaps_counted"]
    assert counted["conflicts_total"] == counted["conflicts_counted"]
    assert counted["superseded_wrongly"] == 0
    for party in PARTIES:
        own = [i for i in counted["overlapped_by_total"] if i.startswith(party)]
        read = service.overlaps_of(party, own)
        assert {i: read[i].total for i in own} == {i: counted["overlaps_counted"][i] for i in own}
        for i in own:
            assert service.get(i, party).conflicts.total == counted["conflicts_counted"][i]
    return counted


def _shuffled(service: ActivityService, seed: int, steps: int, check: Any = None) -> None:
    """``steps`` random changes by three parties to overlapping activities: notify (alone or two at
    once), draft, notify a draft, amend (moving it), activate, complete, cancel; ``check()`` after each."""
    rng = random.Random(seed)
    made = 0

    def new(party: str) -> Any:
        nonlocal made
        made += 1
        return plan(f"{party}-{made}", party, lon=rng.choice(LONS), start_h=rng.choice((48.0, 49.5)))

    for _ in range(steps):
        party = rng.choice(PARTIES)
        mine = [a for a in service.activities() if a.party_id == party]
        step = rng.choice(("notify", "notify", "batch", "draft", "change", "change", "change"))
        if step == "notify" or (not mine and step == "change"):
            service.notify(new(party))
        elif step == "batch":
            service.notify_many([new(party), new(party)])
        elif step == "draft":
            service.draft(new(party))
        else:
            one = rng.choice(mine)
            change = rng.choice(("amend", "amend", "notify_draft", "activate", "complete", "cancel"))
            try:
                if change == "amend":
                    moved = plan(one.id, party, lon=rng.choice(LONS), start_h=rng.choice((48.0, 49.5)))
                    service.amend(moved, one.version)
                elif change == "notify_draft" and one.status is ActivityStatus.DRAFT:
                    service.notify_draft(one.id, one.version, party)
                elif change == "activate":
                    service.activate(one.id, one.version, party)
                elif change == "complete":
                    service.complete(one.id, one.version, party)
                elif change == "cancel":
                    service.cancel(one.id, one.version, party, "no longer needed")
            except ConflictError:
                pass  # not a change its status allows: nothing stored
        if check is not None:
            check()


def _zone(deployment: Deployment) -> None:
    """A zone only Russia may enter, under one of the places activities are put: zone conflicts too."""
    roz = Zone("roz-1", "ROZ", ZoneKind.RESTRICTED_OPERATING_ZONE, box(38.25, 35.9, 38.35, 36.1),
               rules=ZoneRules(permitted_parties=frozenset({"russia"})))  # fmt: skip
    with deployment.db.write() as conn:
        zone_store.upsert_zones(conn, [roz])


@pytest.mark.parametrize("seed", [1, 2])
def test_kept_totals_are_the_counts_after_every_notify_amend_and_cancel(world, deployment: Deployment, seed: int):  # noqa: F811
    service, _ = world
    _zone(deployment)
    _shuffled(service, seed, 40, check=lambda: _agree(deployment, service))
    counted = _agree(deployment, service)
    # the sequence did what the totals are about: overlaps recorded, some of them amended away
    assert sum(counted["overlapped_by_total"].values()) > 0
    assert counted["recorded"] > sum(counted["conflicts_total"].values())


def test_the_migration_fills_the_totals_of_what_was_stored_before_and_the_downgrade_drops_them(
    world,  # noqa: F811
    deployment: Deployment,
) -> None:
    from alembic import command

    from keepclear.store.migrate import alembic_config

    service, _ = world
    _zone(deployment)
    _shuffled(service, 3, 40)
    kept = _agree(deployment, service)
    assert sum(kept["overlapped_by_total"].values()) > 0 and kept["superseded_wrongly"] == 0

    def columns(table: str) -> set[str]:
        return {c["name"] for c in sa.inspect(deployment.db.engine).get_columns(table)}

    config = alembic_config(deployment.db)
    command.downgrade(config, "0023_conflicts_of_version_index")
    assert "overlapped_by_total" not in columns("activities")
    assert "conflicts_total" not in columns("activity_versions")
    assert "superseded" not in columns("activity_conflicts")
    command.upgrade(config, "heads")
    assert _agree(deployment, service) == kept
