"""Zone probe: predicted and actual entries, line crossings with direction and daily counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from shapely.geometry import LineString, MultiPoint, Point, Polygon

from keepclear.detect.states import TrackStates
from keepclear.detect.zoneprobe import CROSSING_DAYS_KEPT, ZoneWatch, predict_zone_entries, prepare_zone, utc_day
from keepclear.domain import Access, AltitudeBand, Validity, Zone, ZoneKind, ZoneRules
from keepclear.domain.event_payloads import LineCrossed, ZoneEntered
from keepclear.geo import destination, distance_m

PARTIES = ["coalition", "russia"]
DAY = 1509494400.0  # 2017-11-01T00:00Z


def unit(
    lat: float,
    lon: float,
    ve: float,
    vn: float,
    party: int = 1,
    alt: float = 3000.0,
    vu: float = 0.0,
    domain: int = 0,
    t: float = DAY,
) -> tuple[float, ...]:
    return (party, domain, t, lat, lon, alt, ve, vn, vu)


def states(*rows: tuple[float, ...]) -> TrackStates:
    a = np.array(rows, dtype=np.float64).reshape(-1, 9)
    return TrackStates(
        tuple(f"u{k}" for k in range(len(a))),
        a[:, 0].astype(np.int64),
        a[:, 1].astype(np.int64),
        *(a[:, k].copy() for k in range(2, 9)),
    )


def box(lat0: float, lon0: float, lat1: float, lon1: float) -> Polygon:
    return Polygon([(lon0, lat0), (lon1, lat0), (lon1, lat1), (lon0, lat1), (lon0, lat0)])


def roz(
    geom: object, permitted: frozenset[str] | None = frozenset({"coalition"}), notice: float = 0.0, **kw: object
) -> Zone:
    return Zone("roz-1", "ROZ", ZoneKind.RESTRICTED_OPERATING_ZONE, geom, rules=ZoneRules(permitted, notice), **kw)  # type: ignore[arg-type]


def test_predicted_entry_time_and_point() -> None:
    zone = prepare_zone(roz(box(35.0, 36.1, 35.2, 36.3)))
    # 200 m/s due east from 36.0°E at 35.1°N: the border at 36.1°E is ~9.1 km away.
    s = states(unit(35.1, 36.0, 200.0, 0.0))
    (entry,) = predict_zone_entries(s, PARTIES, [zone], DAY)
    gap = float(distance_m(35.1, 36.0, 35.1, 36.1))
    assert entry.access is Access.FORBIDDEN and not entry.inside_now
    assert entry.t_entry_s == pytest.approx(gap / 200.0, rel=2e-3)
    assert entry.lon_deg == pytest.approx(36.1, abs=1e-4) and entry.lat_deg == pytest.approx(35.1, abs=1e-3)


def test_permitted_parties_are_not_reported_and_notice_zones_say_so() -> None:
    s = states(unit(35.1, 36.2, 0.0, 0.0, party=0), unit(35.1, 36.2, 0.0, 0.0, party=1))
    entries = predict_zone_entries(s, PARTIES, [prepare_zone(roz(box(35.0, 36.1, 35.2, 36.3)))], DAY)
    assert [(e.unit_id, e.inside_now) for e in entries] == [("u1", True)]
    notice = prepare_zone(roz(box(35.0, 36.1, 35.2, 36.3), permitted=None, notice=24.0))
    entries = predict_zone_entries(s, PARTIES, [notice], DAY)
    assert {e.access for e in entries} == {Access.WITH_NOTICE} and len(entries) == 2


def test_altitude_band_and_climb() -> None:
    zone = prepare_zone(roz(box(35.0, 36.1, 35.2, 36.3), altitude=AltitudeBand(0.0, 10_000.0)))
    above = states(unit(35.1, 36.2, 0.0, 0.0, alt=5000.0))
    assert predict_zone_entries(above, PARTIES, [zone], DAY) == []
    # Descending at 10 m/s from 5000 m: enters the band (3048 m) after 195.2 s.
    descending = states(unit(35.1, 36.2, 0.0, 0.0, alt=5000.0, vu=-10.0))
    (entry,) = predict_zone_entries(descending, PARTIES, [zone], DAY)
    assert entry.t_entry_s == pytest.approx((5000.0 - 3048.0) / 10.0)


def test_validity_window_delays_the_entry() -> None:
    zone = prepare_zone(roz(box(35.0, 36.1, 35.2, 36.3), validity=Validity(DAY + 100.0, None)))
    (entry,) = predict_zone_entries(states(unit(35.1, 36.2, 0.0, 0.0)), PARTIES, [zone], DAY)
    assert entry.t_entry_s == pytest.approx(100.0)


def test_zone_across_the_antimeridian_and_a_protected_point_site() -> None:
    wrap = prepare_zone(roz(box(-10.1, 179.9, -9.9, -179.9)))
    s = states(unit(-10.0, 179.8, 200.0, 0.0))
    (entry,) = predict_zone_entries(s, PARTIES, [wrap], DAY)
    assert entry.t_entry_s == pytest.approx(float(distance_m(-10.0, 179.8, -10.0, 179.9)) / 200.0, rel=2e-3)
    site = Zone(
        "hosp", "Hospital", ZoneKind.PROTECTED_SITE, Point(36.0, 35.0), rules=ZoneRules(frozenset()), buffer_m=1000.0
    )
    lat, lon = destination(35.0, 36.0, 270.0, 3000.0)
    s = states(unit(float(lat), float(lon), 100.0, 0.0))
    (entry,) = predict_zone_entries(s, PARTIES, [prepare_zone(site)], DAY)
    assert entry.t_entry_s == pytest.approx(20.0, abs=0.2)


@pytest.mark.parametrize("seed", range(12))
def test_predicted_entry_matches_a_sampled_oracle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lat0, lon0 = float(rng.uniform(-60, 60)), float(rng.uniform(-180, 180))
    ring = [destination(lat0, lon0, b, float(rng.uniform(5_000, 20_000))) for b in np.sort(rng.uniform(0, 360, 7))]
    poly = MultiPoint([(float(lo), float(la)) for la, lo in ring]).convex_hull
    assert poly.geom_type == "Polygon" and poly.is_valid
    zone = prepare_zone(roz(poly))
    la, lo = destination(lat0, lon0, float(rng.uniform(0, 360)), float(rng.uniform(25_000, 60_000)))
    speed, trk = float(rng.uniform(50, 300)), float(rng.uniform(0, 360))
    ve, vn = speed * math.sin(math.radians(trk)), speed * math.cos(math.radians(trk))
    s = states(unit(float(la), float(lo), ve, vn))
    got = predict_zone_entries(s, PARTIES, [zone], DAY)
    ts = np.arange(0.0, 300.0, 0.05)
    pts = [destination(float(la), float(lo), trk, speed * t) for t in ts]
    x, y = zone.plane.to_xy(np.array([p[0] for p in pts]), np.array([p[1] for p in pts]))
    inside = [zone.area.covers(Point(float(a), float(b))) for a, b in zip(x, y, strict=True)]
    if not any(inside):
        assert got == []
    else:
        first = float(ts[inside.index(True)])
        assert len(got) == 1 and abs(got[0].t_entry_s - first) < 0.2


def test_watch_counts_line_crossings_by_direction_party_and_day() -> None:
    river = Zone(
        "euphrates", "River", ZoneKind.DECONFLICTION_LINE, LineString([(40.0, 34.0), (40.0, 36.0)]), buffer_m=500.0
    )
    watch = ZoneWatch([river])
    lon = [39.99, 40.01, 39.99, 40.01]
    events = []
    for k, x in enumerate(lon):
        events += watch.update(DAY + 60 * k, states(unit(35.0, x, 0.0, 0.0, t=DAY + 60 * k)), PARTIES)
    # The line is drawn northwards: west is its left.
    assert [e.payload["direction"] for e in events] == ["left-to-right", "right-to-left", "left-to-right"]
    assert watch.crossings[("russia", "2017-11-01", "euphrates", "left-to-right")] == 2
    assert watch.crossings[("russia", "2017-11-01", "euphrates", "right-to-left")] == 1
    assert all(e.kind == "zone.line_crossed" and "russia" in e.parties for e in events)
    assert [LineCrossed.from_payload(e.payload).count_today for e in events] == [1, 1, 2]


def test_watch_keeps_crossing_counts_for_a_bounded_number_of_days() -> None:
    """One count per party, line, direction and UTC day was kept for as long as the process ran (one
    more set every day): the counts now cover the last ``CROSSING_DAYS_KEPT`` days."""
    river = Zone("euphrates", "River", ZoneKind.DECONFLICTION_LINE, LineString([(40.0, 34.0), (40.0, 36.0)]))
    watch = ZoneWatch([river])
    days = CROSSING_DAYS_KEPT + 9
    for k in range(2 * days):  # a crossing a day, each way in turn, at noon
        t = DAY + 86_400.0 * (k // 2) + 43_200.0 + 60 * (k % 2)
        watch.update(t, states(unit(35.0, 39.99 if k % 2 == 0 else 40.01, 0.0, 0.0, t=t)), PARTIES)
    kept = sorted({key[1] for key in watch.crossings})
    assert len(kept) == CROSSING_DAYS_KEPT and kept[-1] == utc_day(DAY + 86_400.0 * (days - 1))
    assert kept[0] == utc_day(DAY + 86_400.0 * (days - CROSSING_DAYS_KEPT))
    assert len(watch.crossings) <= 2 * CROSSING_DAYS_KEPT


def test_watch_reports_an_actual_entry_once() -> None:
    watch = ZoneWatch([roz(box(35.0, 36.1, 35.2, 36.3))])
    seq = [36.05, 36.15, 36.16, 36.05, 36.15]
    updates = [watch.update(DAY + k, states(unit(35.1, x, 0.0, 0.0, t=DAY + k)), PARTIES) for k, x in enumerate(seq)]
    assert [[e.kind for e in events] for events in updates] == [[], ["zone.entered"], [], [], ["zone.entered"]]
    assert ZoneEntered.from_payload(updates[1][0].payload).zone_id == "roz-1"


def test_track_noise_across_a_line_counts_one_crossing_and_going_round_its_end_none() -> None:
    river = Zone("euphrates", "River", ZoneKind.DECONFLICTION_LINE, LineString([(40.0, 34.0), (40.0, 35.0)]))
    watch = ZoneWatch([river])
    step_deg = 30.0 / 91_000.0  # ~30 m of longitude at 35°N
    # a slow approach from the west, wobbling ±30 m across the line, then on to the east bank
    lon = [39.99, 39.999, 40.0 - step_deg, 40.0 + step_deg, 40.0 - step_deg, 40.0 + step_deg, 40.002, 40.01]
    kinds = []
    for k, x in enumerate(lon):
        kinds += [(e.kind, e.payload["direction"]) for e in watch.update(DAY + k, states(unit(34.5, x, 0.0, 0.0, t=DAY + k)), PARTIES)]  # fmt: skip
    assert kinds == [("zone.line_crossed", "left-to-right")]
    assert sum(watch.crossings.values()) == 1
    # back and forth within the margin only: no crossing at all
    for k, x in enumerate([40.0 - step_deg, 40.0 + step_deg, 40.01]):
        assert watch.update(DAY + 20 + k, states(unit(34.5, x, 0.0, 0.0, t=DAY + 20 + k)), PARTIES) == []
    # round the northern end of the line, from the east bank to the west bank: no crossing
    for k, (la, x) in enumerate([(34.99, 40.01), (35.02, 40.01), (35.02, 39.99), (34.99, 39.99)]):
        assert watch.update(DAY + 40 + k, states(unit(la, x, 0.0, 0.0, t=DAY + 40 + k)), PARTIES) == []
    assert sum(watch.crossings.values()) == 1


def test_track_noise_on_a_zone_edge_is_one_entry() -> None:
    watch = ZoneWatch([roz(box(35.0, 36.1, 35.2, 36.3))])
    wobble_deg = 40.0 / 91_000.0
    seq = [36.05, 36.1 + wobble_deg, 36.1 - wobble_deg, 36.1 + wobble_deg, 36.1 - wobble_deg, 36.15, 36.05, 36.15]
    kinds = [
        [e.kind for e in watch.update(DAY + k, states(unit(35.1, x, 0.0, 0.0, t=DAY + k)), PARTIES)]
        for k, x in enumerate(seq)
    ]
    assert kinds == [[], ["zone.entered"], [], [], [], [], [], ["zone.entered"]]  # out by 4.5 km: left


def test_a_new_watch_after_a_zone_import_carries_what_the_old_one_knew() -> None:
    zone = roz(box(35.0, 36.1, 35.2, 36.3))
    watch = ZoneWatch([zone])
    assert [e.kind for e in watch.update(DAY, states(unit(35.1, 36.15, 0.0, 0.0, t=DAY)), PARTIES)] == ["zone.entered"]
    again = ZoneWatch([zone], previous=watch)
    assert again.update(DAY + 1, states(unit(35.1, 36.15, 0.0, 0.0, t=DAY + 1)), PARTIES) == []
