"""Activity documents and validation: every bad input refused with the field named."""

from __future__ import annotations

from typing import Any

import pytest

from keepclear.domain.activities import ActivityKind, Circle, activity_problems
from keepclear.errors import ValidationError
from keepclear.geo.activity_doc import activity_from_document, activity_to_document

NOW_S = 1509494400.0  # 2017-11-01T00:00Z
PARTIES = frozenset({"coalition", "russia", "un"})


def document(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "co-1",
        "kind": "air-operation",
        "start": "2017-11-03T10:00:00Z",
        "end": "2017-11-03T14:00:00Z",
        "priority": "routine",
        "addressees": ["russia"],
        "contact": "CAOC duty officer",
        "text": "two flights",
        "volumes": [
            {
                "geometry": {"type": "Polygon", "coordinates": [[[38, 36], [38.1, 36], [38.1, 36.1], [38, 36]]]},
                "lower_ft": 15000,
                "upper_ft": 30000,
            },
            {"circle": {"lat": 35.5, "lon": 38.5, "radius_m": 5000}, "lower_ft": 0, "upper_ft": 10000,
             "start": "2017-11-03T12:00:00Z"},
        ],
    }  # fmt: skip
    doc.update(changes)
    return {k: v for k, v in doc.items() if v is not None}


def problems_of(doc: dict[str, Any]) -> list[str]:
    try:
        activity = activity_from_document(doc, party_id="coalition")
    except ValidationError as exc:
        return exc.problems
    return activity_problems(activity, known_parties=PARTIES, now_s=NOW_S, max_ahead_s=365 * 86400)


def test_a_good_document_reads_and_round_trips() -> None:
    activity = activity_from_document(document(), party_id="coalition")
    assert activity.kind is ActivityKind.AIR_OPERATION and activity.addressees == {"russia"}
    assert isinstance(activity.volumes[1].area, Circle)
    assert activity.volumes[1].start_s == NOW_S + 2 * 86400 + 12 * 3600  # own start
    assert activity.volumes[1].end_s == activity.end_s  # the activity's end when not given
    assert problems_of(document()) == []
    again = activity_from_document(activity_to_document(activity), party_id="coalition")
    assert again == activity
    stored = activity_from_document(
        activity_to_document(activity, epoch_times=True), party_id="coalition", epoch_times=True
    )
    assert stored == activity


ROUTE = {
    "half_width_m": 2000,
    "lower_ft": 0,
    "upper_ft": 500,
    "waypoints": [
        {"lat": 36.0, "lon": 38.0, "time": "2017-11-03T10:00:00Z"},
        {"lat": 36.2, "lon": 38.3, "time": "2017-11-03T12:00:00Z"},
    ],
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"end": "2017-11-03T09:00:00Z"}, "time window: ends before it starts"),
        (
            {"start": "2019-11-03T10:00:00Z", "end": "2019-11-03T12:00:00Z"},
            "time window: starts more than 365 days ahead",
        ),
        ({"start": "2017-10-01T10:00:00Z", "end": "2017-10-01T12:00:00Z"}, "time window: has already ended"),
        ({"start": "2017-11-03T10:00:00"}, "start: '2017-11-03T10:00:00' has no time zone"),
        ({"addressees": ["russia", "nato"]}, "addressees: 'nato' is not a party of this deployment"),
        ({"addressees": ["coalition"]}, "addressees: 'coalition' is the notifying party itself"),
        ({"addressees": "everyone"}, 'addressees: must be "all" or a list of party ids'),
        ({"kind": "strike"}, "kind: 'strike' is not one of air-operation"),
        ({"priority": "urgent"}, "priority: 'urgent' is not one of routine"),
        ({"volumes": []}, "volumes: an activity needs volumes or a route"),
        ({"volumes": None, "route": None}, "volumes: an activity needs volumes or a route"),
        ({"route": ROUTE}, "volumes: give volumes or a route, not both"),
        ({"colour": "red"}, "colour: unknown field"),
        ({"contact": ""}, "contact: must not be empty"),
        ({"party": "russia"}, "party: 'russia' differs from the notifying party 'coalition'"),
        ({"units": "viper11"}, "units: must be a list of unit ids"),
        ({"share_units": "yes"}, "share_units: must be true or false"),
    ],
)
def test_bad_documents_are_refused_naming_the_field(changes: dict[str, Any], expected: str) -> None:
    found = problems_of(document(**changes))
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize(
    ("volume", "expected"),
    [
        ({"geometry": {"type": "Polygon", "coordinates": [[[38, 36], [38.1, 36.1], [38.1, 36], [38, 36.1], [38, 36]]]}},
         "volumes[0].geometry: invalid polygon (Self-intersection"),
        ({"geometry": {"type": "Polygon", "coordinates": []}}, "volumes[0].geometry: empty polygon"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[38, 36], [38.1, 36], [38.2, 36], [38, 36]]]}},
         "volumes[0].geometry: invalid polygon"),  # collinear: no area
        ({"geometry": {"type": "Polygon", "coordinates": [[[38, 36], [38.1, 36], [38.1, 36.1], [38, 36.2]]]}},
         "volumes[0].geometry ring 0: ring is not closed"),
        ({"geometry": {"type": "Point", "coordinates": [38, 36]}}, "volumes[0].geometry: must be a GeoJSON Polygon"),
        ({"circle": {"lat": 95, "lon": 38, "radius_m": 100}}, "volumes[0].circle: latitude 95.0 is outside"),
        ({"circle": {"lat": 18, "lon": 179, "radius_m": 150000}}, "volumes[0].circle: crosses the antimeridian"),
        ({"geometry": {"type": "Polygon", "coordinates": [[[179, 36], [-179, 36], [-179, 36.1], [179, 36]]]}},
         "volumes[0].geometry: spans more than 180° of longitude"),
        ({"circle": {"lat": 35, "lon": 38, "radius_m": 0}}, "volumes[0].circle.radius_m: 0.0 must be a finite number > 0"),
        ({"circle": {"lat": 35, "lon": 38, "radius_m": 10}, "geometry": {}}, "volumes[0]: give a geometry"),
        ({"circle": {"lat": 35, "lon": 38, "radius_m": 10}, "lower_ft": 5000, "upper_ft": 100},
         "volumes[0].altitude: band is upside down"),
        ({"circle": {"lat": 35, "lon": 38, "radius_m": 10}, "lower_ft": -1e12, "upper_ft": 1e300},
         "volumes[0].altitude.upper_ft: 1e+300 is outside [-1500, 99999] ft"),
        ({"circle": {"lat": 35, "lon": 38, "radius_m": 10}, "end": "2017-11-04T10:00:00Z"},
         "volumes[0] time window: lies outside the activity's time window"),
        ({"circle": {"lat": 35, "lon": 38, "radius_m": 10}, "lower_ft": "low"}, "volumes[0].lower_ft: 'low' is not a finite number"),
    ],
)  # fmt: skip
def test_bad_volumes_are_refused_naming_the_volume(volume: dict[str, Any], expected: str) -> None:
    volume = {"lower_ft": 0, "upper_ft": 1000, **volume}
    found = problems_of(document(volumes=[volume]))
    assert any(p.startswith(expected) for p in found), found


def route(**changes: Any) -> dict[str, Any]:
    return {**ROUTE, **changes}


@pytest.mark.parametrize(
    ("route_doc", "expected"),
    [
        (route(waypoints=[ROUTE["waypoints"][1], ROUTE["waypoints"][0]]),
         "route.waypoints[1].time: must be later than the time of waypoint 0"),
        (route(waypoints=[ROUTE["waypoints"][0], ROUTE["waypoints"][0]]),
         "route.waypoints[1].time: must be later than the time of waypoint 0"),
        (route(waypoints=ROUTE["waypoints"][:1]), "route.waypoints: needs at least 2 waypoints, has 1"),
        (route(half_width_m=0), "route.half_width_m: 0.0 must be a finite number from 1 m to 500000 m"),
        (route(upper_ft=120000), "route.altitude.upper_ft: 120000 is outside [-1500, 99999] ft"),
        (route(waypoints=[{**ROUTE["waypoints"][0], "lon": 179.5}, {**ROUTE["waypoints"][1], "lon": -179.5}]),
         "route.waypoints: span more than 180° of longitude"),
        (route(waypoints=[*ROUTE["waypoints"], {"lat": 36.3, "lon": 38.3, "time": "2017-11-03T15:00:00Z"}]),
         "route.waypoints[2].time: lies outside the activity's time window"),
        (route(waypoints=[{"lat": 36.0, "lon": 38.0}]), "route.waypoints[0].time: missing"),
    ],
)  # fmt: skip
def test_bad_routes_are_refused_naming_the_waypoint(route_doc: dict[str, Any], expected: str) -> None:
    found = problems_of(document(volumes=None, route=route_doc))
    assert any(p.startswith(expected) for p in found), found


def test_a_good_route_reads() -> None:
    assert problems_of(document(volumes=None, route=ROUTE)) == []


def test_not_a_mapping_is_refused() -> None:
    with pytest.raises(ValidationError, match="document: must be a mapping"):
        activity_from_document([1, 2], party_id="coalition")
