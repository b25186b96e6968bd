"""Long routes and many volumes: the pairs of pieces judged are those near in time and space, and the
conflicts are exactly those of judging every pair (a plain all-pairs oracle kept here)."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import box

from keepclear.detect.activity_geometry import activity_pieces
from keepclear.detect.box_pairs import BoxTable, meeting_pairs
from keepclear.detect.strategic import (
    CheckCounts,
    CheckTooCostly,
    IndexedActivity,
    ProbeSet,
    StrategicConfig,
    brute_force_check,
    judge_activity,
    probes_for,
)
from keepclear.detect.strategic_index import StrategicIndex
from keepclear.domain.activities import Activity, ActivityKind, Circle, Route, Volume, Waypoint
from keepclear.domain.zones import AltitudeBand

T0 = 1509494400.0  # 2017-11-01T00:00Z
H = 3600.0
CONFIG = StrategicConfig()


def indexed(activity: Activity) -> IndexedActivity:
    return IndexedActivity(activity.id, activity.party_id, activity.version, activity.kind, activity_pieces(activity))


def route_activity(
    activity_id: str, party: str, points: list[tuple[float, float]], times_s: list[float], half_width_m: float = 1000.0
) -> IndexedActivity:
    waypoints = tuple(Waypoint(lat, lon, t) for (lon, lat), t in zip(points, times_s, strict=True))
    return indexed(
        Activity(
            id=activity_id,
            party_id=party,
            kind=ActivityKind.AIR_OPERATION,
            start_s=times_s[0],
            end_s=times_s[-1],
            route=Route(waypoints, half_width_m, AltitudeBand(0.0, 10000.0)),
            contact="duty",
        )
    )


def all_pairs_judgement(probes: ProbeSet, other: IndexedActivity) -> tuple[object, ...] | None:
    """The oracle: every (probe, piece) pair, in order, put to the time, altitude, box and exact tests;
    what a conflict holds (where, when, which band), or None."""
    parts = []
    for probe in probes:
        for piece in other.pieces:
            if piece.start_s >= probe.end_s or probe.start_s >= piece.end_s:
                continue
            if piece.lower_ft > probe.upper_ft or probe.lower_ft > piece.upper_ft:
                continue
            a, b = probe.bounds, piece.bounds
            if not (a[0] <= b[2] and b[0] <= a[2] and a[1] <= b[3] and b[1] <= a[3]):
                continue
            if probe.geometry.intersects(piece.geometry):
                parts.append(
                    (
                        probe.geometry.intersection(piece.geometry),
                        max(probe.start_s, piece.start_s),
                        min(probe.end_s, piece.end_s),
                        max(probe.lower_ft, piece.lower_ft),
                        min(probe.upper_ft, piece.upper_ft),
                    )
                )
    if not parts:
        return None
    geometry = parts[0][0] if len(parts) == 1 else shapely.union_all([p[0] for p in parts])
    return (
        geometry,
        min(p[1] for p in parts),
        max(p[2] for p in parts),
        min(p[3] for p in parts),
        max(p[4] for p in parts),
    )


def judged(
    probes: ProbeSet, other: IndexedActivity, config: StrategicConfig, pairs_looped: float
) -> tuple[object, ...] | None:
    """What ``judge_activity`` finds, as ``all_pairs_judgement`` puts it."""
    found = judge_activity(probes, other, config, pairs_looped=pairs_looped)
    if found is None:
        return None
    return (found.geometry, found.start_s, found.end_s, found.lower_ft, found.upper_ft)


# Coordinates on a 0.01° grid and times on a 5-minute grid, so that boxes touch at an edge or a corner
# and windows meet at an instant (the buffers are multiples of both) often enough to be tried.
_lon = st.integers(0, 20).map(lambda k: 38.0 + k * 0.01)
_lat = st.integers(0, 20).map(lambda k: 35.0 + k * 0.01)
_band = st.sampled_from([(0.0, 1000.0), (1000.0, 1000.0), (2000.0, 5000.0), (0.0, 10000.0), (6000.0, 9000.0)])


@st.composite
def routes(draw: st.DrawFn, activity_id: str, party: str) -> Activity:
    count = draw(st.integers(2, 14))
    points = [(draw(_lon), draw(_lat)) for _ in range(count)]
    if draw(st.booleans()):  # a leg of zero length: the same point twice
        at = draw(st.integers(0, count - 2))
        points[at + 1] = points[at]
    first = draw(st.integers(0, 24))
    steps = draw(st.lists(st.integers(1, 6), min_size=count - 1, max_size=count - 1))
    times = [T0 + 300.0 * (first + sum(steps[:k])) for k in range(count)]
    lower, upper = draw(_band)
    waypoints = tuple(Waypoint(lat, lon, t) for (lon, lat), t in zip(points, times, strict=True))
    half_width_m = draw(st.sampled_from([1.0, 300.0, 1000.0]))
    return Activity(
        id=activity_id,
        party_id=party,
        kind=ActivityKind.AIR_OPERATION,
        start_s=times[0],
        end_s=times[-1],
        route=Route(waypoints, half_width_m, AltitudeBand(lower, upper)),
        contact="duty",
    )


@st.composite
def volume_sets(draw: st.DrawFn, activity_id: str, party: str) -> Activity:
    volumes = []
    for _ in range(draw(st.integers(1, 24))):
        lon, lat = draw(_lon), draw(_lat)
        if draw(st.booleans()):
            area: shapely.Polygon | Circle = box(lon, lat, lon + draw(st.integers(1, 5)) * 0.01, lat + 0.01)
        else:
            area = Circle(lat, lon, draw(st.sampled_from([100.0, 1000.0])))
        start = T0 + 300.0 * draw(st.integers(0, 24))
        lower, upper = draw(_band)
        volumes.append(Volume(area, AltitudeBand(lower, upper), start, start + 300.0 * draw(st.integers(1, 8))))
    return Activity(
        id=activity_id,
        party_id=party,
        kind=ActivityKind.AIR_OPERATION,
        start_s=min(v.start_s for v in volumes),
        end_s=max(v.end_s for v in volumes),
        volumes=tuple(volumes),
        contact="duty",
    )


def activities(activity_id: str, party: str) -> st.SearchStrategy[Activity]:
    return st.one_of(routes(activity_id, party), volume_sets(activity_id, party))


@settings(max_examples=150, deadline=None)
@given(
    activities("co-1", "coalition"),
    st.lists(st.sampled_from(["ru", "tr"]), min_size=1, max_size=4).flatmap(
        lambda parties: st.tuples(*(activities(f"{p}-{n}", p) for n, p in enumerate(parties)))
    ),
    st.sampled_from([0.0, 1000.0]),
    st.sampled_from([0.0, 900.0]),
    st.sampled_from([0.0, 1000.0]),
)
def test_joined_pairs_judge_exactly_as_every_pair_does(subject, others, buffer_m, buffer_s, buffer_ft) -> None:
    config = StrategicConfig(buffer_m=buffer_m, buffer_s=buffer_s, buffer_ft=buffer_ft)
    mine = indexed(subject)
    theirs = [indexed(o) for o in others]
    probes = probes_for(mine.pieces, config)
    for other in theirs:
        expected = all_pairs_judgement(probes, other)
        for pairs_looped in (0, math.inf):  # always joined with numpy, always looped
            assert judged(probes, other, config, pairs_looped) == expected
    index = StrategicIndex(pairs_looped=0)
    for other in theirs:
        index.put_activity(other)
    assert index.check(mine, T0, config) == brute_force_check(mine, theirs, [], T0, config)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(*[st.integers(0, 6)] * 8), max_size=12),
    st.lists(st.tuples(*[st.integers(0, 6)] * 8), max_size=12),
)
def test_meeting_pairs_are_every_pair_that_meets_in_order(rows_a, rows_b) -> None:
    def table(rows: list[tuple[int, ...]]) -> BoxTable:
        # start, end, lower, upper, min x, min y, max x, max y; ends may equal starts (an instant)
        return BoxTable.of([(s, s + d, lo, lo + h, x, y, x + w, y + v) for s, d, lo, h, x, y, w, v in rows])

    a, b = table(rows_a), table(rows_b)
    expected = [
        (i, j)
        for i in range(len(a))
        for j in range(len(b))
        if a.start_s[i] < b.end_s[j]
        and b.start_s[j] < a.end_s[i]
        and b.lower_ft[j] <= a.upper_ft[i]
        and a.lower_ft[i] <= b.upper_ft[j]
        and a.min_x[i] <= b.max_x[j]
        and b.min_x[j] <= a.max_x[i]
        and a.min_y[i] <= b.max_y[j]
        and b.min_y[j] <= a.max_y[i]
    ]
    found = meeting_pairs(a, b)
    assert list(zip(found.rows.tolist(), found.columns.tolist(), strict=True)) == expected
    # the pairs tested are those overlapping in time, and those where an empty window starts in the other
    starts_inside = sum(
        1
        for i in range(len(a))
        for j in range(len(b))
        if b.start_s[j] <= a.start_s[i] < b.end_s[j] or a.start_s[i] < b.start_s[j] < a.end_s[i]
    )
    assert found.tested == starts_inside


def _path(rng: np.random.Generator, legs: int, lon: float, lat: float) -> list[tuple[float, float]]:
    """A meandering path of ``legs`` legs of about 1 km."""
    points = [(lon, lat)]
    heading = rng.uniform(0, 2 * math.pi)
    for _ in range(legs):
        heading += rng.normal(0, 0.3)
        last_lon, last_lat = points[-1]
        points.append(
            (
                last_lon + math.sin(heading) / (111.0 * math.cos(math.radians(last_lat))),
                last_lat + math.cos(heading) / 111.0,
            )
        )
    return points


def test_a_499_leg_route_against_20_far_499_leg_routes_judges_almost_no_pair() -> None:
    rng = np.random.default_rng(499)
    path = _path(rng, 499, 38.0, 35.0)
    times = [T0 + 48 * H + k * 60.0 for k in range(500)]
    subject = route_activity("co-1", "coalition", path, times)
    later = [route_activity(f"ru-{k}", "russia", path, [t + (k + 1) * 24 * H for t in times]) for k in range(10)]
    away = [
        route_activity(f"tr-{k}", "turkey", [(lon, lat + 1.0 + 0.1 * k) for lon, lat in path], times) for k in range(10)
    ]
    probes = probes_for(subject.pieces, CONFIG)
    all_pairs = 499 * 499 * 20
    counts = CheckCounts()
    for other in later + away:
        assert judge_activity(probes, other, CONFIG, counts) is None
    assert counts.exact == 0
    # the other days' legs are not even compared; the same hours' legs are compared in numpy only
    assert counts.compared < all_pairs / 15
    counts_later = CheckCounts()
    for other in later:
        judge_activity(probes, other, CONFIG, counts_later)
    assert counts_later.compared == 0

    # and through the index, with the same path flown backwards over the same hours among them: the
    # two meet half way, and only the legs near that meeting are put to the exact test
    crossing = route_activity("un-1", "un", path[::-1], times)
    stored = [*later, *away, crossing]
    index, looped = StrategicIndex(), StrategicIndex(pairs_looped=math.inf)
    for other in stored:
        index.put_activity(other)
        looped.put_activity(other)
    counts = CheckCounts()
    result = index.check(subject, T0, CONFIG, counts)
    assert [c.target_id for c in result.conflicts] == ["un-1"]
    assert 0 < counts.exact < 2000  # of 5,245,020 pairs
    assert result == looped.check(subject, T0, CONFIG)


def test_a_check_past_its_budget_of_exact_pairs_is_refused_and_one_within_is_not() -> None:
    """A route flown back and forth over others' routes met them hundreds of thousands of times (34 s
    of geometry holding every notification); past ``max_exact_pairs`` it is refused as input."""
    rng = np.random.default_rng(7)
    path = _path(rng, 60, 38.0, 35.0)
    times = [T0 + 48 * H + k * 60.0 for k in range(61)]
    subject = route_activity("co-1", "coalition", path, times)
    index = StrategicIndex()
    for k in range(3):
        index.put_activity(route_activity(f"ru-{k}", "russia", path[::-1], times))
    counts = CheckCounts()
    unbounded = index.check(subject, T0, replace(CONFIG, max_exact_pairs=math.inf), counts)
    assert unbounded.conflicts and counts.exact > 3
    assert index.check(subject, T0, replace(CONFIG, max_exact_pairs=counts.exact)) == unbounded
    with pytest.raises(CheckTooCostly) as refused:
        index.check(subject, T0, replace(CONFIG, max_exact_pairs=counts.exact - 1))
    assert "volume" in str(refused.value) and "activity_check_max_exact_pairs" in str(refused.value)
