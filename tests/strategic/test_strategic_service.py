"""Activity lifecycle, stale versions, conflicts, escalation, need-to-know and batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import replace

import pytest
import sqlalchemy as sa
from shapely.geometry import Polygon, box
from sqlalchemy.engine import Connection

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.activities import Activity, ActivityKind, ActivityStatus, Priority, Volume
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import PAYLOAD_TYPES, ActivityConflicts
from keepclear.domain.events import Event
from keepclear.domain.parties import Contact
from keepclear.domain.zones import AltitudeBand, Zone, ZoneKind, ZoneRules
from keepclear.errors import ConflictError, NotFoundError, ValidationError
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.activities.errors import ActivityForbidden, StaleVersionError
from keepclear.services.activities.service import ActivityService
from keepclear.services.activities.views import view_for
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database
from keepclear.store import registry as registry_store
from keepclear.store import zones as zone_store

H = 3600.0


@pytest.fixture
def world(deployment: Deployment) -> Iterator[tuple[ActivityService, list[Event]]]:
    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition"), [Contact("Duty officer", "CAOC"), Contact("Deputy", "CAOC")])
    reg.add_party(
        Party("russia", "Russia", "ru"),
        [Contact("Duty officer", "Hmeimim"), Contact("Chief of staff", "Hmeimim"), Contact("Commander", "GS")],
    )
    reg.add_party(Party("un", "UN OCHA"))
    reg.add_force(Force("usaf", "USAF", "coalition"))
    reg.add_unit(Unit("viper11", "VIPER11", Domain.AIR, "fighter", "usaf"))
    seen: list[Event] = []
    deployment.bus.subscribe(seen.append)
    yield ActivityService(deployment.db, deployment.clock, deployment.bus), seen
    # whatever a test did, every event the services emitted fits its kind's typed payload exactly
    for event in seen:
        typed = PAYLOAD_TYPES.get(event.kind)
        if typed is not None:
            assert typed.from_payload(event.payload).to_payload() == event.payload, event


def plan(activity_id: str, party: str, lon: float = 38.0, start_h: float = 48.0, now_s: float = 1509494400.0, **kw):
    start_s = now_s + start_h * H
    return Activity(
        id=activity_id,
        party_id=party,
        kind=kw.pop("kind", ActivityKind.AIR_OPERATION),
        start_s=start_s,
        end_s=start_s + 2 * H,
        volumes=(Volume(box(lon - 0.05, 35.95, lon + 0.05, 36.05), AltitudeBand(0, 20000), start_s, start_s + 2 * H),),
        contact="CAOC duty officer",
        text="strike package",
        **kw,
    )


def test_lifecycle_notify_acknowledge_object_amend_activate_complete(world, clock: ManualClock) -> None:
    service, seen = world
    result = service.notify(plan("coalition-1", "coalition", addressees=frozenset({"russia", "un"})))
    assert result.activity.version == 1 and result.activity.status is ActivityStatus.NOTIFIED
    assert result.addressees == {"russia", "un"}
    clock.advance(60)
    service.acknowledge("coalition-1", 1, "russia")
    service.object("coalition-1", 1, "un", "convoy on that road")
    state = service.get("coalition-1")
    assert [(a.party_id, a.state, a.reason) for a in state.acks] == [
        ("russia", "acknowledged", ""),
        ("un", "objected", "convoy on that road"),
    ]
    amended = service.amend(
        replace(plan("coalition-1", "coalition", lon=38.5), addressees=frozenset({"russia", "un"})), 1
    )
    assert amended.activity.version == 2
    assert [a.state for a in service.get("coalition-1").acks] == ["pending", "pending"]
    assert [v.version for v in service.versions("coalition-1")] == [1, 2]
    assert service.versions("coalition-1")[0].volumes[0].area.bounds[0] == pytest.approx(37.95)
    service.acknowledge("coalition-1", 2, "russia")
    service.activate("coalition-1", 2, "coalition")
    done = service.complete("coalition-1", 2, "coalition")
    assert done.status is ActivityStatus.COMPLETED
    assert [e.kind for e in seen if e.kind.startswith("activity.")] == [
        "activity.notified",
        "activity.acknowledged",
        "activity.objected",
        "activity.amended",
        "activity.acknowledged",
        "activity.activated",
        "activity.completed",
    ]
    assert seen[-1].parties == {"coalition", "russia", "un"}
    assert [h["change"] for h in service.history("coalition-1")] == [
        "notified", "acknowledged", "objected", "amended", "acknowledged", "activated", "completed",
    ]  # fmt: skip


def test_stale_version_is_refused_with_current_version(world) -> None:
    service, _ = world
    service.notify(plan("coalition-1", "coalition"))
    service.amend(plan("coalition-1", "coalition", lon=38.2), 1)
    with pytest.raises(StaleVersionError) as refused:
        service.amend(plan("coalition-1", "coalition", lon=38.4), 1)
    assert refused.value.current_version == 2
    assert isinstance(refused.value, ConflictError)
    with pytest.raises(StaleVersionError, match="current version is 2"):
        service.acknowledge("coalition-1", 1, "russia")
    with pytest.raises(StaleVersionError):
        service.cancel("coalition-1", 1, "coalition")
    state = service.get("coalition-1")
    assert state.activity.version == 2 and state.activity.status is ActivityStatus.NOTIFIED
    assert state.activity.volumes[0].area.bounds[0] == pytest.approx(38.15)


def test_draft_is_checked_only_when_notified_and_hidden_until_then(world) -> None:
    service, seen = world
    draft = service.draft(plan("coalition-1", "coalition"))
    assert draft.status is ActivityStatus.DRAFT and seen == []  # nobody is told of a draft
    with pytest.raises(NotFoundError):
        service.acknowledge("coalition-1", 1, "russia")
    assert view_for(service.get("coalition-1"), "russia") is None
    result = service.notify_draft("coalition-1", 1, "coalition")
    assert result.activity.status is ActivityStatus.NOTIFIED and result.addressees == {"russia", "un"}


def test_conflict_is_recorded_and_delivered_to_both_sides_with_the_overlap_only(world) -> None:
    service, seen = world
    service.notify(plan("russia-1", "russia", addressees=frozenset({"coalition"})))
    result = service.notify(plan("coalition-1", "coalition", lon=38.05, addressees=frozenset({"un"})))
    assert [(c.kind.value, c.target_id) for c in result.check.conflicts] == [("activity", "russia-1")]
    stored = service.get("coalition-1").conflicts.shown
    assert [(c.conflict.target_id, c.conflict.target_party_id) for c in stored] == [("russia-1", "russia")]
    conflict_events = [e for e in seen if e.kind == "activity.conflict"]
    assert [set(e.parties) for e in conflict_events] == [{"coalition"}, {"russia"}]
    to_coalition = ActivityConflicts.from_payload(conflict_events[0].payload)
    assert (to_coalition.activity_id, to_coalition.version, to_coalition.conflicts_total) == ("coalition-1", 1, 1)
    assert [c["target_id"] for c in to_coalition.conflicts] == ["russia-1"]
    told = ActivityConflicts.from_payload(conflict_events[1].payload)
    assert (told.activity_id, told.version, told.conflicts_total) == (None, None, 1)  # never coalition-1
    (to_russia,) = told.conflicts
    assert set(to_russia) == {
        "your_activity_id",
        "your_activity_version",
        "geometry",
        "start",
        "end",
        "lower_ft",
        "upper_ft",
    }
    assert to_russia["your_activity_id"] == "russia-1"
    # russia is not addressed: it sees nothing of coalition-1, and the overlap on its own russia-1
    overlaps = service.overlaps_of("russia", ["coalition-1", "russia-1"])
    assert view_for(service.get("coalition-1"), "russia", overlaps) is None
    own = view_for(service.get("russia-1"), "russia", overlaps)
    assert own is not None and [o["your_activity_id"] for o in own["overlapped_by"]] == ["russia-1"]
    assert "coalition-1" not in str(own["overlapped_by"])


def test_many_conflicts_are_told_once_to_each_party_with_the_first_few_and_how_many(
    world, deployment: Deployment
) -> None:
    _, seen = world
    most = 4
    service = ActivityService(deployment.db, deployment.clock, deployment.bus, ActivityConfig(event_max_conflicts=most))
    service.notify_many([plan(f"russia-{i:02d}", "russia") for i in range(3 * most + 1)])
    service.notify_many([plan(f"un-{i}", "un") for i in range(2)])
    seen.clear()
    result = service.notify(plan("coalition-1", "coalition"))
    assert len(result.check.conflicts) == 3 * most + 3 and service.get("coalition-1").conflicts.total == 3 * most + 3
    events = [e for e in seen if e.kind == EventKind.ACTIVITY_CONFLICT]
    assert [sorted(e.parties) for e in events] == [["coalition"], ["russia"], ["un"]]
    told = {next(iter(e.parties)): ActivityConflicts.from_payload(e.payload) for e in events}
    mine = told["coalition"]
    assert (mine.activity_id, mine.version, mine.conflicts_total) == ("coalition-1", 1, 3 * most + 3)
    assert [c["target_id"] for c in mine.conflicts] == [c.target_id for c in result.check.conflicts[:most]]
    russia, un = told["russia"], told["un"]
    assert (russia.activity_id, russia.conflicts_total, len(russia.conflicts)) == (None, 3 * most + 1, most)
    assert {c["your_activity_id"] for c in russia.conflicts} <= {f"russia-{i:02d}" for i in range(3 * most + 1)}
    assert sorted(c["your_activity_id"] for c in un.conflicts) == ["un-0", "un-1"] and un.conflicts_total == 2
    assert "coalition-1" not in str([russia, un])
    seen.clear()  # an amendment tells as boundedly, and a batch once for all its activities
    service.amend(plan("coalition-1", "coalition", lon=38.01), 1)
    service.notify_many([plan(f"coalition-b{i}", "coalition") for i in range(3)])
    events = [e for e in seen if e.kind == EventKind.ACTIVITY_CONFLICT]
    assert len(events) == 2 * 3  # the amendment and the batch, each told to coalition, russia and un
    assert all(len(e.payload["conflicts"]) <= most for e in events)
    batch = {next(iter(e.parties)): ActivityConflicts.from_payload(e.payload) for e in events[3:]}
    assert batch["coalition"].activity_id is None and batch["coalition"].activities_total == 3
    assert batch["coalition"].conflicts_total == 3 * (3 * most + 3)
    assert (batch["russia"].conflicts_total, batch["un"].conflicts_total) == (3 * (3 * most + 1), 3 * 2)


def test_zone_conflicts_are_recorded_for_the_notifier(world, deployment: Deployment) -> None:
    service, _ = world
    roz = Zone("roz-1", "ROZ", ZoneKind.RESTRICTED_OPERATING_ZONE, box(37.9, 35.9, 38.1, 36.1),
               rules=ZoneRules(permitted_parties=frozenset({"russia"})))  # fmt: skip
    with deployment.db.write() as conn:
        zone_store.upsert_zones(conn, [roz])
    result = service.notify(plan("coalition-1", "coalition"))
    assert [c.kind.value for c in result.check.conflicts] == ["zone-not-permitted"]
    with deployment.db.write() as conn:  # a changed zone is seen by the next check
        zone_store.upsert_zones(conn, [replace(roz, rules=ZoneRules(permitted_parties=None, min_notice_h=72))])
    again = service.notify(plan("coalition-2", "coalition"))
    assert [c.kind.value for c in again.check.conflicts] == ["zone-short-notice"]


def test_late_notice_is_flagged_to_everyone_concerned_not_refused(world) -> None:
    service, seen = world
    result = service.notify(plan("un-1", "un", start_h=30, kind=ActivityKind.HUMANITARIAN_MOVEMENT))
    assert result.check.late_notice is not None and result.check.late_notice.given_s == 30 * H
    late = [e for e in seen if e.kind == "activity.late_notice"]
    assert len(late) == 1 and late[0].parties == {"un", "coalition", "russia"}
    assert late[0].payload["required_notice_s"] == 48 * H
    state = service.get("un-1")
    assert (state.required_notice_s, state.given_notice_s) == (48 * H, 30 * H)


def test_escalation_walks_the_addressees_roster_with_the_clock(world, clock: ManualClock) -> None:
    service, seen = world
    service.notify(plan("russia-1", "russia", addressees=frozenset({"un"})))
    service.notify(plan("coalition-1", "coalition", lon=38.05, addressees=frozenset({"russia", "un"})))
    acks = {a.party_id: a for a in service.get("coalition-1").acks}
    assert acks["russia"].deadline_s == 300  # conflicts with russia's own activity
    assert acks["un"].deadline_s == 900
    clock.advance(299)
    assert service.run_deadlines() == []
    clock.advance(1)
    steps = service.run_deadlines()
    assert [(s.party_id, s.level, s.contact_name) for s in steps] == [("russia", 1, "Chief of staff")]
    clock.advance(300)
    assert [(s.party_id, s.contact_name) for s in service.run_deadlines()] == [("russia", "Commander")]
    clock.advance(300)  # 900 s after notification: un is overdue too; russia's roster is exhausted
    steps = [s for s in service.run_deadlines() if s.activity_id == "coalition-1"]  # ru-1 waits on un too
    assert sorted((s.party_id, s.level, s.contact_name) for s in steps) == [("russia", 3, None), ("un", 1, None)]
    clock.advance(3000)
    assert service.run_deadlines() == []
    escalated = [e for e in seen if e.kind == "activity.escalated" and e.payload["activity_id"] == "coalition-1"]
    assert escalated[0].parties == {"coalition", "russia"}
    assert [e.payload["roster_exhausted"] for e in escalated] == [False, False, True, True]
    state = service.get("coalition-1")
    assert [(e.party_id, e.level) for e in state.escalations] == [
        ("russia", 1),
        ("russia", 2),
        ("russia", 3),
        ("un", 1),
    ]


def test_acknowledging_stops_escalation_and_notifier_sees_who_has_not(world, clock: ManualClock) -> None:
    service, _ = world
    service.notify(plan("coalition-1", "coalition", priority=Priority.IMMEDIATE))
    service.acknowledge("coalition-1", 1, "russia")
    clock.advance(301)
    assert [s.party_id for s in service.run_deadlines()] == ["un"]
    view = view_for(service.get("coalition-1"), "coalition")
    assert view is not None
    assert view["acknowledged"] == ["russia"] and view["not_acknowledged"] == ["un"]
    assert view["escalations"][0]["roster_exhausted"] is True  # un has no roster


def test_addressee_view_hides_units_unless_shared_and_strangers_see_nothing(world) -> None:
    service, _ = world
    service.notify(plan("coalition-1", "coalition", addressees=frozenset({"russia"}), units=("viper11",)))
    service.notify(
        plan("coalition-2", "coalition", addressees=frozenset({"russia"}), units=("viper11",), share_units=True)
    )
    hidden = view_for(service.get("coalition-1"), "russia")
    shared = view_for(service.get("coalition-2"), "russia")
    assert hidden is not None and shared is not None
    assert "units" not in hidden and shared["units"] == ["viper11"]
    assert "addressees" not in hidden
    assert {"kind", "start", "end", "volumes", "priority", "contact", "text"} <= set(hidden)
    assert view_for(service.get("coalition-1"), "un") is None
    assert view_for(service.get("coalition-1"), "coalition")["units"] == ["viper11"]


def test_only_the_notifier_changes_and_only_addressees_answer(world) -> None:
    service, _ = world
    service.notify(plan("coalition-1", "coalition", addressees=frozenset({"russia"})))
    with pytest.raises(ActivityForbidden):
        service.cancel("coalition-1", 1, "russia")
    with pytest.raises(NotFoundError):  # un is not addressed: the activity does not exist for it
        service.acknowledge("coalition-1", 1, "un")
    with pytest.raises(NotFoundError):
        service.amend(plan("coalition-1", "un"), 1)
    service.cancel("coalition-1", 1, "coalition", "weather")
    with pytest.raises(ConflictError, match="cancelled"):
        service.activate("coalition-1", 1, "coalition")


def test_cancelled_activities_no_longer_conflict(world) -> None:
    service, _ = world
    service.notify(plan("russia-1", "russia"))
    service.cancel("russia-1", 1, "russia")
    assert service.notify(plan("coalition-1", "coalition")).check.conflicts == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"end_s": 1509494400.0}, "time window: ends before it starts"),
        ({"start_s": 1509494400.0 + 800 * 86400, "end_s": 1509494400.0 + 801 * 86400}, "days ahead"),
        ({"addressees": frozenset({"nato"})}, "addressees: 'nato' is not a party"),
        ({"units": ("su24",)}, "units[0]: 'su24' is not a unit of coalition"),
        ({"contact": " "}, "contact: must not be empty"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(world, change, message) -> None:
    service, _ = world
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        service.notify(replace(plan("coalition-1", "coalition"), **change))
    assert service.activities() == []


def test_bad_amendment_leaves_the_current_version(world) -> None:
    service, _ = world
    service.notify(plan("coalition-1", "coalition"))
    bad = Polygon([(38.0, 36.0), (38.1, 36.1), (38.1, 36.0), (38.0, 36.1)])  # a bow tie
    start = 1509494400.0 + 48 * H
    with pytest.raises(ValidationError, match=r"volumes\[0\].geometry: invalid polygon \(Self-intersection"):
        service.amend(
            replace(plan("coalition-1", "coalition"), volumes=(Volume(bad, AltitudeBand(0, 1), start, start + H),)), 1
        )
    assert [v.version for v in service.versions("coalition-1")] == [1]


def test_a_second_process_sees_activities_notified_by_the_first(world, deployment: Deployment) -> None:
    first, _ = world
    second = ActivityService(deployment.db, deployment.clock, deployment.bus)  # its own live index
    first.notify(plan("russia-1", "russia"))
    assert [c.target_id for c in second.notify(plan("coalition-1", "coalition")).check.conflicts] == ["russia-1"]
    assert [c.target_id for c in first.notify(plan("un-tr-1", "un", lon=38.02)).check.conflicts] == [
        "coalition-1",
        "russia-1",
    ]
    second.cancel("russia-1", 1, "russia")
    assert [c.target_id for c in first.notify(plan("un-2", "un", lon=38.01)).check.conflicts] == ["coalition-1"]


def test_amending_away_an_addressee_tells_it_the_activity_is_withdrawn(world) -> None:
    service, seen = world
    service.notify(plan("coalition-1", "coalition", addressees=frozenset({"russia", "un"})))
    service.amend(plan("coalition-1", "coalition", addressees=frozenset({"russia"})), 1)
    withdrawn = [e for e in seen if e.kind == "activity.withdrawn"]
    assert len(withdrawn) == 1 and withdrawn[0].parties == {"un"}
    assert view_for(service.get("coalition-1"), "un") is None
    with pytest.raises(NotFoundError):
        service.acknowledge("coalition-1", 2, "un")


def test_migration_creates_the_tables_the_store_declares(deployment: Deployment) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from keepclear.store import activity_schema
    from keepclear.store.schema import metadata

    ours = {t.name for t in activity_schema.metadata.sorted_tables if t.name.startswith("activit")}
    assert ours == {
        "activities",
        "activity_versions",
        "activity_acks",
        "activity_conflicts",
        "activity_escalations",
        "activity_log",
    }
    with deployment.db.engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diffs if "activit" in repr(d)] == []


def test_conflicts_recorded_before_the_index_by_version_are_read_through_it_and_the_downgrade_drops_it(
    world, deployment: Deployment
) -> None:
    from alembic import command

    from keepclear.store.migrate import alembic_config

    service, _ = world
    service.notify(plan("russia-1", "russia", addressees=frozenset({"coalition"})))
    service.notify(plan("coalition-1", "coalition", lon=38.05, addressees=frozenset({"un"})))  # recorded before

    def indexes() -> set[str]:
        return {i["name"] for i in sa.inspect(deployment.db.engine).get_indexes("activity_conflicts")}

    config = alembic_config(deployment.db)
    command.downgrade(config, "0021_conflict_overlaps_index")  # its conflicts as stored before the index
    assert {"ix_activity_conflicts_activity_id"} <= indexes() and "ix_activity_conflicts_of_version" not in indexes()
    command.upgrade(config, "heads")
    assert "ix_activity_conflicts_of_version" in indexes() and "ix_activity_conflicts_activity_id" not in indexes()
    found = service.get("coalition-1").conflicts
    assert ([c.conflict.target_id for c in found.shown], found.total) == (["russia-1"], 1)


def _targets(result) -> list[tuple[str, str | None]]:
    return sorted((c.kind.value, c.target_id) for c in result.check.conflicts)


def test_each_activity_of_a_batch_finds_what_it_would_find_alone(world) -> None:
    service, seen = world
    rng = random.Random(2017)
    for i in range(15):  # russia's picture: activities here and there, some overlapping the batch's
        service.notify(plan(f"russia-{i}", "russia", lon=rng.uniform(37.0, 39.0), start_h=rng.uniform(30, 60)))
    places = [(rng.uniform(37.0, 39.0), rng.uniform(30, 60)) for _ in range(12)]
    batch = service.notify_many(
        [
            plan(f"coalition-b-{i}", "coalition", lon=lon, start_h=start_h, addressees=frozenset({"russia"}))
            for i, (lon, start_h) in enumerate(places)
        ]
    )
    alone = [
        service.notify(
            plan(f"coalition-s-{i}", "coalition", lon=lon, start_h=start_h, addressees=frozenset({"russia"}))
        )
        for i, (lon, start_h) in enumerate(places)
    ]
    assert [r.activity.id for r in batch] == [f"coalition-b-{i}" for i in range(12)]
    assert [_targets(r) for r in batch] == [_targets(r) for r in alone]
    assert sum(len(r.check.conflicts) for r in batch) > 0  # the comparison saw conflicts
    assert all(r.activity.status is ActivityStatus.NOTIFIED and r.activity.version == 1 for r in batch)
    notified = [e.payload["activity"]["id"] for e in seen if e.kind is EventKind.ACTIVITY_NOTIFIED]
    assert [i for i in notified if i.startswith("coalition-b-")] == [f"coalition-b-{i}" for i in range(12)]
    # the index is current after the batch: russia's next activity over b-0 conflicts with it (and s-0)
    lon, start_h = places[0]
    later = service.notify(plan("russia-late", "russia", lon=lon, start_h=start_h))
    assert {"coalition-b-0", "coalition-s-0"} <= {c.target_id for c in later.check.conflicts}
    assert service.get("coalition-b-5").acks[0].party_id == "russia"


def test_one_bad_activity_stores_none_of_the_batch_and_each_problem_names_its_index(world) -> None:
    service, seen = world
    before, told = service.activities(), len(seen)
    good = plan("coalition-1", "coalition")
    with pytest.raises(ValidationError) as refused:
        service.notify_many(
            [
                good,
                replace(plan("coalition-2", "coalition"), addressees=frozenset({"nobody"})),
                replace(plan("coalition-3", "coalition"), contact=""),
                plan("coalition-1", "coalition", lon=38.4),
            ]
        )
    problems = refused.value.problems
    assert any(p.startswith("activities[1].addressees:") and "nobody" in p for p in problems), problems
    assert any(p.startswith("activities[2].contact:") for p in problems), problems
    assert any(p.startswith("activities[3].id:") and "activities[0]" in p for p in problems), problems
    assert not any(p.startswith("activities[0]") for p in problems), problems
    assert service.activities() == before and len(seen) == told
    service.notify(good)
    with pytest.raises(ConflictError, match=r"activities\[1\]: activity 'coalition-1' already exists"):
        service.notify_many([plan("coalition-9", "coalition"), plan("coalition-1", "coalition")])
    assert [a.id for a in service.activities()] == [*[a.id for a in before], "coalition-1"]


def test_a_batch_larger_than_the_setting_or_empty_is_refused_before_anything_is_read(deployment: Deployment) -> None:
    service = ActivityService(deployment.db, deployment.clock, deployment.bus, ActivityConfig(max_batch=2))
    with pytest.raises(ValidationError, match="3 activities, at most 2 in one batch"):
        service.notify_many([plan(f"coalition-x-{i}", "coalition") for i in range(3)])
    with pytest.raises(ValidationError, match="empty"):
        service.notify_many([])


def test_made_up_ids_are_the_partys_and_80_random_bits_drawn_again_when_taken(world, deployment: Deployment) -> None:
    """An activity given no id gets ``<party>-`` and 80 random bits. One already stored (a repeat of
    the draw) is drawn again rather than refused as 'already exists': the party never chose it. A
    batch whose two draws repeat each other gets two ids too."""
    draws = iter([7, 7, 9, 7, 7, 11, 12])
    service = ActivityService(deployment.db, deployment.clock, deployment.bus, random_bits=lambda bits: next(draws))
    first = service.notify(plan("", "coalition")).activity
    assert first.id == f"coalition-{7:020x}"
    again = service.notify(plan("", "coalition", lon=39.0)).activity  # drew 7, taken: drawn again
    assert again.id == f"coalition-{9:020x}"
    batch = service.notify_many([plan("", "coalition", lon=40.0), plan("", "coalition", lon=41.0)])
    assert sorted(r.activity.id for r in batch) == [f"coalition-{11:020x}", f"coalition-{12:020x}"]
    assert service.get(first.id).activity.id == first.id


def test_a_party_whose_id_leaves_no_room_for_a_made_up_id_is_told_to_give_one(world, deployment: Deployment) -> None:
    """Party ids are held to 43 characters now, so that ``<party>-`` and 20 hex digits fit an id's
    64; a party added before may have a longer one: its activity given no id is refused saying so,
    and one it names is taken."""
    service, _ = world
    long_id = "p" * 50
    with deployment.db.write() as conn:  # as a deployment of an earlier version holds it
        registry_store.insert_party(conn, Party(long_id, "Long"), 0.0)
    with pytest.raises(ValidationError) as refused:
        service.notify(plan("", long_id))
    assert refused.value.problems[0].startswith(f"id: none given, and the one keepclear makes up ({long_id!r}")
    assert f"give the activity an id beginning with '{long_id}-'" in refused.value.problems[0]
    assert not any("not a valid id" in p for p in refused.value.problems)
    assert service.notify(plan(f"{long_id}-1", long_id)).activity.id == f"{long_id}-1"


class _CountedWrites:
    """The deployment's database, counting the write transactions opened through it."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self.writes = 0

    def write(self, *args: object, **kwargs: object) -> AbstractContextManager[Connection]:
        self.writes += 1
        return self._db.write(*args, **kwargs)

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)


@pytest.mark.parametrize("overdue", [7, 6])
def test_deadlines_falling_due_together_are_escalated_in_bounded_transactions(
    world, deployment: Deployment, clock: ManualClock, overdue: int
) -> None:
    """All overdue acknowledgements were escalated in one transaction: a party notifying thousands of
    activities at once made as many fall due together, and every other write waited for all of them.
    Now ``deadline_batch`` at a time, oldest first, each batch its own transaction; none is lost."""
    counted = _CountedWrites(deployment.db)
    service = ActivityService(counted, deployment.clock, deployment.bus, config=ActivityConfig(deadline_batch=3))  # type: ignore[arg-type]
    for k in range(overdue):
        service.notify(plan(f"coalition-{k}", "coalition", lon=30.0 + k, addressees=frozenset({"russia"})))
        clock.advance(1)
    clock.advance(900)
    counted.writes = 0
    steps = service.run_deadlines()
    assert [s.activity_id for s in steps] == [f"coalition-{k}" for k in range(overdue)]  # oldest first
    assert all((s.party_id, s.level) == ("russia", 1) for s in steps)
    assert counted.writes == overdue // 3 + 1
    assert service.run_deadlines() == []  # each moved on to its next deadline


def test_the_deadline_chore_takes_one_batch_a_call_oldest_first(
    world, deployment: Deployment, clock: ManualClock
) -> None:
    """The runtime's chores thread asks for one batch a call (``max_batches=1``) and comes back at once
    while whole batches come: between two batches the other chores (a hotline escalation due) go."""
    service = ActivityService(deployment.db, deployment.clock, deployment.bus, config=ActivityConfig(deadline_batch=3))
    for k in range(7):
        service.notify(plan(f"coalition-{k}", "coalition", lon=30.0 + k, addressees=frozenset({"russia"})))
        clock.advance(1)
    clock.advance(900)
    calls = [[s.activity_id for s in service.run_deadlines(max_batches=1)] for _ in range(4)]
    assert calls == [[f"coalition-{k}" for k in ks] for ks in ([0, 1, 2], [3, 4, 5], [6], [])]
