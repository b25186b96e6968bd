"""The strategic check: each conflict kind, buffers, lead time, and the index against brute force."""

from __future__ import annotations

import tracemalloc

import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, box

from keepclear.detect.activity_geometry import activity_pieces
from keepclear.detect.strategic import (
    ConflictKind,
    IndexedActivity,
    PreparedZone,
    StrategicConfig,
    brute_force_check,
)
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain.activities import Activity, ActivityKind, Circle, Route, Volume, Waypoint
from keepclear.domain.zones import AltitudeBand, Validity, Zone, ZoneKind, ZoneRules

T0 = 1509494400.0  # 2017-11-01T00:00Z
H = 3600.0
CONFIG = StrategicConfig(buffer_m=1000.0, buffer_ft=1000.0, buffer_s=900.0)


def square(lon: float, lat: float, half_deg: float = 0.05):
    return box(lon - half_deg, lat - half_deg, lon + half_deg, lat + half_deg)


def activity(
    activity_id: str,
    party: str,
    area,
    start_s: float = T0 + 48 * H,
    hours: float = 2.0,
    lower_ft: float = 0.0,
    upper_ft: float = 10000.0,
    kind: ActivityKind = ActivityKind.AIR_OPERATION,
) -> IndexedActivity:
    a = Activity(
        id=activity_id,
        party_id=party,
        kind=kind,
        start_s=start_s,
        end_s=start_s + hours * H,
        volumes=(Volume(area, AltitudeBand(lower_ft, upper_ft), start_s, start_s + hours * H),),
        contact="duty",
    )
    return IndexedActivity(a.id, a.party_id, a.version, a.kind, activity_pieces(a))


def check(subject: IndexedActivity, others=(), zones=(), notified_s: float = T0):
    """The index's check, equal to brute force's, and to that of an index so narrow (``max_keys``)
    that most items and queries are wide."""
    prepared = [PreparedZone.of(z) for z in zones]
    slow = brute_force_check(subject, others, prepared, notified_s, CONFIG)
    for index in (StrategicIndex(), StrategicIndex(max_keys=4)):
        for other in others:
            index.put_activity(other)
        for z in prepared:
            index.put_zone(z)
        assert index.check(subject, notified_s, CONFIG) == slow
    return slow


def test_overlapping_activity_of_another_party_conflicts_with_where_when_why() -> None:
    theirs = activity("ru-1", "russia", square(38.0, 36.0), start_s=T0 + 49 * H)
    ours = activity("co-1", "coalition", square(38.08, 36.0))
    result = check(ours, [theirs])
    assert [(c.kind, c.target_id, c.target_party_id) for c in result.conflicts] == [
        (ConflictKind.ACTIVITY, "ru-1", "russia")
    ]
    conflict = result.conflicts[0]
    assert conflict.start_s == T0 + 49 * H and conflict.end_s == T0 + 50 * H + 900
    lon_min, _, lon_max, _ = shapely.bounds(conflict.geometry)
    assert 38.0185 < lon_min < 38.0195 and abs(lon_max - 38.05) < 1e-9
    assert "russia's air-operation activity ru-1" in conflict.reason


def test_same_party_activities_never_conflict() -> None:
    assert (
        check(activity("co-1", "coalition", square(38, 36)), [activity("co-2", "coalition", square(38, 36))]).conflicts
        == ()
    )


def test_separated_in_altitude_time_or_space_beyond_the_buffer_is_no_conflict() -> None:
    ours = activity("co-1", "coalition", square(38.0, 36.0), lower_ft=20000, upper_ft=30000)
    high_gap = activity("ru-1", "russia", square(38.0, 36.0), lower_ft=0, upper_ft=18999)
    late = activity("ru-2", "russia", square(38.0, 36.0), lower_ft=20000, upper_ft=30000, start_s=T0 + 50 * H + 901)
    far = activity("ru-3", "russia", square(38.0 + 0.1 + 0.012, 36.0), lower_ft=20000, upper_ft=30000)
    assert check(ours, [high_gap, late, far]).conflicts == ()


def test_buffer_catches_activities_just_apart() -> None:
    ours = activity("co-1", "coalition", Circle(36.0, 38.0, 5000.0))
    # 5 km circle; the other starts 5.5 km east: within the 1 km buffer.
    near = activity("ru-1", "russia", Circle(36.0, 38.0 + 10500.0 / 90180.0, 5000.0))
    assert [c.target_id for c in check(ours, [near]).conflicts] == ["ru-1"]


def test_route_corridor_conflicts_only_in_the_leg_it_is_flown() -> None:
    route = Activity(
        id="co-r",
        party_id="coalition",
        kind=ActivityKind.GROUND_MOVEMENT,
        start_s=T0 + 48 * H,
        end_s=T0 + 52 * H,
        route=Route(
            (Waypoint(36.0, 38.0, T0 + 48 * H), Waypoint(36.0, 38.5, T0 + 50 * H), Waypoint(36.5, 38.5, T0 + 52 * H)),
            2000.0,
            AltitudeBand(0, 500),
        ),
        contact="duty",
    )
    ours = IndexedActivity("co-r", "coalition", 1, route.kind, activity_pieces(route))
    on_first_leg_then = activity("ru-1", "russia", square(38.25, 36.0, 0.01), start_s=T0 + 49 * H, hours=0.5)
    on_first_leg_later = activity("ru-2", "russia", square(38.25, 36.0, 0.01), start_s=T0 + 51 * H, hours=0.5)
    assert [c.target_id for c in check(ours, [on_first_leg_then, on_first_leg_later]).conflicts] == ["ru-1"]


def zone(zone_id: str, geometry, kind=ZoneKind.RESTRICTED_OPERATING_ZONE, permitted=None, notice_h=0.0, **kw) -> Zone:
    return Zone(
        id=zone_id,
        name=zone_id.upper(),
        kind=kind,
        geometry=geometry,
        rules=ZoneRules(permitted_parties=permitted, min_notice_h=notice_h),
        **kw,
    )


def test_zone_not_permitted_for_this_party() -> None:
    forbidden = zone("roz-1", square(38.0, 36.0), permitted=frozenset({"russia"}))
    open_to_all = zone("roz-2", square(38.0, 36.0))
    result = check(activity("co-1", "coalition", square(38.02, 36.0)), zones=[forbidden, open_to_all])
    assert [(c.kind, c.target_id) for c in result.conflicts] == [(ConflictKind.ZONE_NOT_PERMITTED, "roz-1")]
    assert "does not permit coalition" in result.conflicts[0].reason


def test_zone_needing_more_notice_than_given() -> None:
    z = zone("dez-1", square(38.0, 36.0), kind=ZoneKind.DE_ESCALATION_ZONE, notice_h=72.0)
    result = check(activity("co-1", "coalition", square(38.0, 36.0)), zones=[z])  # 48 h notice given
    assert [(c.kind, c.required_notice_s, c.given_notice_s) for c in result.conflicts] == [
        (ConflictKind.ZONE_SHORT_NOTICE, 72 * H, 48 * H)
    ]
    assert check(activity("co-1", "coalition", square(38.0, 36.0), start_s=T0 + 73 * H), zones=[z]).conflicts == ()


def test_protected_site_conflicts_except_for_humanitarian_kinds() -> None:
    hospital = zone("hosp-1", Point(38.0, 36.0), kind=ZoneKind.PROTECTED_SITE, buffer_m=500.0)
    strike = activity("co-1", "coalition", Circle(36.0, 38.004, 300.0))
    convoy = activity("un-1", "un", Circle(36.0, 38.004, 300.0), kind=ActivityKind.HUMANITARIAN_MOVEMENT)
    assert [c.kind for c in check(strike, zones=[hospital]).conflicts] == [ConflictKind.PROTECTED_SITE]
    assert check(convoy, zones=[hospital]).conflicts == ()


def test_deconfliction_line_is_its_buffered_band_and_zones_outside_validity_or_band_are_ignored() -> None:
    river = zone("euphrates", LineString([(38.0, 35.0), (38.0, 37.0)]), kind=ZoneKind.DECONFLICTION_LINE,
                 permitted=frozenset(), buffer_m=3000.0)  # fmt: skip
    expired = zone("old", square(38.1, 36.0), permitted=frozenset(), validity=Validity(None, T0))
    high = zone("high", square(38.1, 36.0), permitted=frozenset(), altitude=AltitudeBand(20000, 40000))
    near_bank = activity("co-1", "coalition", Circle(36.0, 38.05, 2000.0))  # ~4.5 km from the line, 2 km radius
    far_bank = activity("co-2", "coalition", Circle(36.0, 38.08, 2000.0))
    assert [c.target_id for c in check(near_bank, zones=[river, expired, high]).conflicts] == ["euphrates"]
    assert check(far_bank, zones=[river]).conflicts == ()


def test_lead_time_flag_per_kind() -> None:
    strike = activity("co-1", "coalition", square(38.0, 36.0), start_s=T0 + 23 * H)
    convoy = activity("un-1", "un", square(38.0, 36.0), start_s=T0 + 30 * H, kind=ActivityKind.HUMANITARIAN_MOVEMENT)
    assert check(strike).late_notice is not None and check(strike).late_notice.required_s == 24 * H
    late = check(convoy).late_notice
    assert late is not None and (late.required_s, late.given_s) == (48 * H, 30 * H)
    assert check(activity("co-2", "coalition", square(38.0, 36.0), start_s=T0 + 24 * H)).late_notice is None


def test_removed_and_replaced_activities_leave_the_index() -> None:
    index = StrategicIndex()
    index.put_activity(activity("ru-1", "russia", square(38.0, 36.0)))
    index.put_activity(activity("ru-1", "russia", square(39.0, 36.0)))  # amended elsewhere
    ours = activity("co-1", "coalition", square(38.0, 36.0))
    assert index.check(ours, T0, CONFIG).conflicts == ()
    index.remove_activity("ru-1")
    assert len(index) == 0


boxes = st.tuples(
    st.floats(37.0, 39.0), st.floats(35.0, 37.0), st.floats(0.005, 0.4), st.floats(0.0, 72.0), st.floats(0.1, 30.0),
    st.floats(0.0, 30000.0), st.sampled_from(["russia", "coalition", "un"]),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(boxes, min_size=0, max_size=40), boxes, st.lists(boxes, max_size=10))
def test_index_finds_exactly_what_brute_force_finds(others, subject, zone_specs) -> None:
    def make(i: int, spec) -> IndexedActivity:
        lon, lat, size, start_h, hours, lower, party = spec
        return activity(f"a{i}", party, square(lon, lat, size), T0 + start_h * H, hours, lower, lower + 3000)

    zones_ = [
        zone(f"z{i}", square(lon, lat, size), permitted=frozenset({party}), notice_h=start_h,
             altitude=AltitudeBand(lower, lower + 5000), validity=Validity(T0 + hours * H, None))
        for i, (lon, lat, size, start_h, hours, lower, party) in enumerate(zone_specs)
    ]  # fmt: skip
    result = check(make(-1, subject), [make(i, s) for i, s in enumerate(others)], zones_)
    assert len({(c.kind, c.target_id) for c in result.conflicts}) == len(result.conflicts)


def test_a_drawing_failure_falls_back_instead_of_losing_the_conflict() -> None:
    from shapely.geometry import Polygon

    from keepclear.detect.strategic import overlap

    bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1), (0, 0)])  # invalid: GEOS may refuse to intersect it
    found = overlap(bowtie, box(0.4, 0.0, 0.6, 1.0))
    assert not found.is_empty and found.bounds[0] >= 0.4 - 1e-9


def test_what_one_activity_costs_the_index_is_bounded_whatever_its_shape() -> None:
    """A route zigzagging across a continent once took hundreds of megabytes of grid keys and seconds
    of one party's request (the probe's tick late for everyone); now it is kept under one wide key."""
    legs = 200
    start_s = T0 + 48 * H
    waypoints = tuple(
        Waypoint(-60.0 + 120.0 * i / legs, -89.0 if i % 2 == 0 else 89.0, start_s + 60.0 * i) for i in range(legs + 1)
    )
    route = Route(waypoints, 500_000.0, AltitudeBand(0.0, 100.0))
    a = Activity(
        id="ru-zigzag", party_id="russia", kind=ActivityKind.AIR_OPERATION, start_s=start_s,
        end_s=waypoints[-1].time_s, route=route, contact="duty",
    )  # fmt: skip
    zigzag = IndexedActivity(a.id, a.party_id, a.version, a.kind, activity_pieces(a))
    index = StrategicIndex()
    tracemalloc.start()
    try:
        index.put_activity(zigzag)
        _, peak_bytes = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_bytes < 2_000_000, peak_bytes
    ours = activity("co-1", "coalition", square(0.0, 0.0), start_s=start_s)
    assert [c.target_id for c in check(ours, [zigzag]).conflicts] == ["ru-zigzag"]
