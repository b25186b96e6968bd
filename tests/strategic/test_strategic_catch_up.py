"""The notify path without re-reads, on SQLite and PostgreSQL: the answer is what reading the activity
back gives, and the strategic index reads back only what other writers changed (activities by the
activity log, zones by the zones' version that triggers move on, whoever changes the table)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from shapely.geometry import box
from test_strategic_service import plan as service_plan

from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.activities import Activity, ActivityStatus
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.domain.zones import Zone, ZoneKind, ZoneRules
from keepclear.geo.activity_doc import activity_from_document
from keepclear.services.activities.live_index import LiveIndex
from keepclear.services.activities.results import NotifyResult
from keepclear.services.activities.service import ActivityService
from keepclear.services.activities.views import view_for
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import zones as zone_store

H = 3600.0
NOW_S = 1509494400.0
PARTIES = ("coalition", "russia", "un")


@pytest.fixture
def parties(deployment: Deployment) -> Iterator[Deployment]:
    reg = deployment.registry
    reg.add_party(Party("coalition", "Coalition"), [Contact("Duty officer", "CAOC"), Contact("Deputy", "CAOC")])
    reg.add_party(Party("russia", "Russia", "ru"), [Contact("Duty officer", "Hmeimim"), Contact("Chief", "GS")])
    reg.add_party(Party("un", "UN OCHA"))
    reg.add_force(Force("usaf", "USAF", "coalition"))
    reg.add_unit(Unit("viper11", "VIPER11", Domain.AIR, "fighter", "usaf"))
    yield deployment


def plan(activity_id: str, party: str, lon: float = 38.0, start_h: float = 48.0, **kw: Any) -> Activity:
    return service_plan(activity_id, party, lon, start_h, NOW_S, **kw)


def circle(activity_id: str, party: str, **document: Any) -> Activity:
    """A circle notified as the API reads it (``activity_from_document``)."""
    body: dict[str, Any] = {
        "id": activity_id,
        "kind": "surveillance-flight",
        "start": format_utc(NOW_S + 48 * H),
        "end": format_utc(NOW_S + 50 * H),
        "contact": "duty officer",
        "volumes": [{"circle": {"lat": 36.0, "lon": 38.01, "radius_m": 7000}, "lower_ft": 0, "upper_ft": 15000}],
    }
    body.update(document)
    return activity_from_document(body, party_id=party)


def route(activity_id: str, party: str) -> Activity:
    body = {
        "id": activity_id,
        "kind": "humanitarian-movement",
        "start": format_utc(NOW_S + 10 * H),
        "end": format_utc(NOW_S + 14 * H),
        "contact": "convoy lead",
        "addressees": "all",
        "route": {
            "half_width_m": 500,
            "lower_ft": 0,
            "upper_ft": 100,
            "waypoints": [
                {"lat": 35.9, "lon": 37.9, "time": format_utc(NOW_S + 10 * H)},
                {"lat": 36.1, "lon": 38.1, "time": format_utc(NOW_S + 14 * H)},
            ],
        },
    }
    return activity_from_document(body, party_id=party)


def assert_answered_as_read_back(service: ActivityService, result: NotifyResult) -> None:
    """Every party's view of the state the write answered equals its view of the state read back."""
    read_back = service.get(result.activity.id)
    for party in PARTIES:
        assert view_for(result.state, party) == view_for(read_back, party), party
    assert result.state.acks == read_back.acks
    assert result.state.addressees == read_back.addressees


def test_the_answer_of_a_notification_is_what_reading_it_back_gives(parties: Deployment, clock: ManualClock) -> None:
    service = ActivityService(parties.db, parties.clock, parties.bus)
    roz = Zone("roz-1", "ROZ", ZoneKind.RESTRICTED_OPERATING_ZONE, box(37.9, 35.9, 38.1, 36.1),
               rules=ZoneRules(permitted_parties=frozenset({"russia"}), min_notice_h=72))  # fmt: skip
    with parties.db.write() as conn:
        zone_store.upsert_zones(conn, [roz])
    first = service.notify(plan("russia-1", "russia", addressees=frozenset({"coalition"})))
    assert_answered_as_read_back(service, first)
    # units shared, conflicts with an activity and a zone, every other party addressed
    units = service.notify(circle("coalition-1", "coalition", units=["viper11"], share_units=True))
    assert {c.kind.value for c in units.check.conflicts} >= {"activity", "zone-not-permitted"}
    assert units.addressees == {"russia", "un"}
    assert_answered_as_read_back(service, units)
    late = service.notify(route("un-1", "un"))  # a route, addressed to all, given late notice
    assert late.check.late_notice is not None
    assert_answered_as_read_back(service, late)
    # an amendment after escalations: the answer carries them as a read would
    clock.advance(300)
    assert service.run_deadlines()
    amended = service.amend(replace(circle("coalition-1", "coalition", units=["viper11"]), version=1), 1)
    assert amended.state.escalations and amended.activity.version == 2
    assert_answered_as_read_back(service, amended)
    # a draft, amended as a draft, then notified
    draft = service.draft(plan("coalition-2", "coalition", lon=38.3))
    assert_answered_as_read_back(service, service.amend(replace(draft, text="changed"), 1))
    notified = service.notify_draft("coalition-2", 2, "coalition")
    assert notified.activity.status is ActivityStatus.NOTIFIED
    assert_answered_as_read_back(service, notified)


def test_a_check_reads_back_only_what_other_writers_changed(parties: Deployment) -> None:
    live = LiveIndex()
    here = ActivityService(parties.db, parties.clock, parties.bus, live=live)
    other = ActivityService(parties.db, parties.clock, parties.bus)  # another process: its own index
    here.notify(plan("russia-1", "russia"))
    read = live.rows_read_total
    assert [c.target_id for c in here.notify(plan("coalition-1", "coalition")).check.conflicts] == ["russia-1"]
    assert live.rows_read_total == read  # its own notifications are not read back
    other.notify(plan("un-1", "un", lon=38.02))
    assert [c.target_id for c in here.notify(plan("coalition-2", "coalition", lon=38.01)).check.conflicts] == [
        "russia-1",
        "un-1",
    ]
    assert live.rows_read_total == read + 1  # the other's one activity
    other.acknowledge("coalition-1", 1, "russia")  # read again, the same version: checked as before
    other.cancel("un-1", 1, "un")  # gone from the check
    assert [c.target_id for c in here.notify(plan("russia-2", "russia", lon=38.01)).check.conflicts] == [
        "coalition-1",
        "coalition-2",
    ]
    assert live.rows_read_total == read + 3
    here.cancel("coalition-1", 1, "coalition")
    assert [c.target_id for c in other.notify(plan("russia-3", "russia")).check.conflicts] == ["coalition-2"]


def test_zones_are_read_only_when_changed_whoever_changes_them(parties: Deployment) -> None:
    live = LiveIndex()
    service = ActivityService(parties.db, parties.clock, parties.bus, live=live)
    roz = Zone("roz-1", "ROZ", ZoneKind.RESTRICTED_OPERATING_ZONE, box(37.9, 35.9, 38.1, 36.1),
               rules=ZoneRules(permitted_parties=frozenset({"russia"})))  # fmt: skip
    with parties.db.write() as conn:
        zone_store.upsert_zones(conn, [roz])
    assert [c.kind.value for c in service.notify(plan("coalition-1", "coalition")).check.conflicts] == [
        "zone-not-permitted"
    ]
    read = live.rows_read_total
    assert [c.kind.value for c in service.notify(plan("coalition-2", "coalition", lon=38.3)).check.conflicts] == []
    assert live.rows_read_total == read  # nothing changed: the zone table is not read
    with parties.db.write() as conn:  # an operator at the SQL prompt: the triggers move the version on
        conn.execute(sa.text("UPDATE zones SET permitted_parties = NULL, min_notice_h = 72 WHERE id = 'roz-1'"))
    assert [c.kind.value for c in service.notify(plan("coalition-3", "coalition")).check.conflicts] == [
        "zone-short-notice"
    ]
    with parties.db.write() as conn:
        conn.execute(sa.text("DELETE FROM zones"))
    assert service.notify(plan("coalition-4", "coalition")).check.conflicts == ()
