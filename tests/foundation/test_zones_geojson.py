"""Zones from GeoJSON: every kind of bad input is refused whole, naming the feature and the reason."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from keepclear.domain import Party, ZoneKind
from keepclear.domain.zones import AltitudeBand
from keepclear.errors import ConflictError, ValidationError
from keepclear.geo.zone_geojson import zones_from_geojson, zones_to_geojson
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.zones.service import parse_geojson_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zones.geojson"


def example() -> dict[str, Any]:
    return json.loads(EXAMPLE.read_text())


def with_change(index: int, change) -> dict[str, Any]:
    doc = example()
    change(doc["features"][index])
    return doc


def set_prop(name: str, value: object):
    return lambda f: f["properties"].__setitem__(name, value)


def set_coords(value: object):
    return lambda f: f["geometry"].__setitem__("coordinates", value)


SQUARE = [[[36.0, 33.0], [36.1, 33.0], [36.1, 33.1], [36.0, 33.1], [36.0, 33.0]]]

BAD_CASES = [
    (
        "longitude out of range",
        0,
        set_coords([[[186.0, 33.0], [36.1, 33.0], [36.1, 33.1], [186.0, 33.0]]]),
        "longitude 186.0",
    ),
    (
        "latitude out of range",
        0,
        set_coords([[[36.0, -91.0], [36.1, 33.0], [36.1, 33.1], [36.0, -91.0]]]),
        "latitude -91.0",
    ),
    ("unclosed polygon", 0, set_coords([[[36.0, 33.0], [36.1, 33.0], [36.1, 33.1], [36.0, 33.1]]]), "not closed"),
    (
        "self-intersecting polygon",
        0,
        set_coords([[[36.0, 33.0], [36.1, 33.1], [36.1, 33.0], [36.0, 33.1], [36.0, 33.0]]]),
        "invalid polygon (Self-intersection",
    ),
    ("empty geometry", 0, set_coords([]), "empty"),
    ("missing geometry", 0, lambda f: f.__setitem__("geometry", None), "geometry: missing"),
    ("unknown kind", 0, set_prop("kind", "no-fly-zone"), "unknown kind 'no-fly-zone'"),
    ("upside-down band", 0, lambda f: f["properties"].update(lower_ft=30000, upper_ft=1000), "upside down"),
    ("NaN coordinate", 0, set_coords([[[math.nan, 33.0], [36.1, 33.0], [36.1, 33.1], [math.nan, 33.0]]]), "finite"),
    ("NaN altitude", 0, set_prop("upper_ft", math.nan), "upper_ft: nan is not a finite number"),
    ("line without buffer", 1, set_prop("buffer_m", 0), "needs a buffer"),
    ("site without radius", 2, lambda f: f["properties"].pop("radius_m"), "needs a radius"),
    ("time without zone", 0, set_prop("valid_from", "2017-07-22T00:00:00"), "has no time zone"),
    (
        "validity reversed",
        0,
        lambda f: f["properties"].update(valid_until="2017-01-01T00:00:00Z"),
        "valid_until must be after",
    ),
    (
        "kind/geometry mismatch",
        1,
        lambda f: f.__setitem__("geometry", {"type": "Polygon", "coordinates": SQUARE}),
        "deconfliction-line must be",
    ),
    ("unknown property", 0, set_prop("colour", "red"), "unknown colour"),
    ("bad id", 0, lambda f: f.__setitem__("id", "Has Spaces"), "not a valid id"),
    ("bad permitted parties", 0, set_prop("permitted_parties", "coalition"), "permitted_parties"),
    ("band above the bounds", 0, set_prop("upper_ft", 1e300), "properties.upper_ft: 1e+300 is outside [-1500, 99999]"),
    ("band below the bounds", 0, set_prop("lower_ft", -1e12), "properties.lower_ft: -1e+12 is outside [-1500, 99999]"),
    (
        "band above, both ends",
        3,
        lambda f: f["properties"].update(lower_ft=100000, upper_ft=200000),
        "properties.lower_ft: 100000 is outside",
    ),
]


@pytest.mark.parametrize(("label", "index", "change", "reason"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_bad_feature_is_refused_naming_index_and_reason(label, index, change, reason):
    with pytest.raises(ValidationError) as info:
        zones_from_geojson(with_change(index, change))
    message = str(info.value)
    assert f"feature {index}" in message
    assert reason in message


def test_every_problem_of_every_feature_is_reported_at_once():
    doc = with_change(0, set_prop("kind", "nope"))
    doc["features"][2]["properties"]["upper_ft"] = -5
    with pytest.raises(ValidationError) as info:
        zones_from_geojson(doc)
    assert any(p.startswith("feature 0") for p in info.value.problems)
    assert any(p.startswith("feature 2") for p in info.value.problems)


def test_the_altitude_bounds_themselves_are_accepted():
    doc = with_change(0, lambda f: f["properties"].update(lower_ft=-1500, upper_ft=99999))
    assert zones_from_geojson(doc)[0].altitude == AltitudeBand(-1500.0, 99999.0)


def test_permitted_parties_must_be_registered_when_the_parties_are_given():
    """The geo layer reads no store: the importing service passes the registered party ids in."""
    doc = with_change(3, set_prop("permitted_parties", ["coalition", "rusia"]))
    assert len(zones_from_geojson(doc)) == 4  # not given: not checked (a file read without a deployment)
    with pytest.raises(ValidationError) as info:
        zones_from_geojson(doc, parties={"coalition", "russia"})
    assert info.value.problems == [
        "feature 2 properties.permitted_parties[0]: no party 'un' is registered",
        "feature 3 properties.permitted_parties[1]: no party 'rusia' is registered",
    ]
    assert len(zones_from_geojson(example(), parties={"coalition", "un"})) == 4


def test_import_refuses_an_unregistered_party_and_stores_nothing(deployment: Deployment):
    register_example_parties(deployment)
    deployment.zones.import_document(example())
    before = deployment.zones.export_document()
    renamed = with_change(0, set_prop("name", "Renamed"))
    renamed["features"][3]["properties"]["permitted_parties"] = ["rusia"]
    with pytest.raises(ValidationError) as info:
        deployment.zones.import_document(renamed, replace=True)
    assert info.value.problems == ["feature 3 properties.permitted_parties[0]: no party 'rusia' is registered"]
    assert deployment.zones.export_document() == before
    deployment.registry.add_party(Party("rusia", "A party of that name"))
    deployment.zones.import_document(renamed, replace=True)
    assert {z.name for z in deployment.zones.list()} >= {"Renamed"}


def test_duplicate_ids_in_one_file_are_refused():
    doc = example()
    doc["features"][1]["id"] = doc["features"][0]["id"]
    with pytest.raises(ValidationError, match="feature 1 id: 'eastern-ghouta' is also the id of feature 0"):
        zones_from_geojson(doc)


def test_nan_literal_in_json_text_is_refused():
    with pytest.raises(ValidationError, match="NaN is not allowed"):
        parse_geojson_text('{"type": "FeatureCollection", "features": [], "x": NaN}', "zones.geojson")


def test_json_syntax_error_names_the_line():
    with pytest.raises(ValidationError, match="line 3"):
        parse_geojson_text('{\n"type": "FeatureCollection",\n"features": [}', "zones.geojson")


def test_round_trip_keeps_every_field():
    zones = zones_from_geojson(example())
    again = zones_from_geojson(json.loads(json.dumps(zones_to_geojson(zones))))
    assert again == zones
    kinds = {z.kind for z in zones}
    assert {ZoneKind.DE_ESCALATION_ZONE, ZoneKind.DECONFLICTION_LINE, ZoneKind.PROTECTED_SITE} <= kinds


def test_polygon_zone_across_antimeridian_is_accepted():
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[[179.5, -17.0], [-179.5, -17.0], [-179.5, -16.0], [179.5, -16.0], [179.5, -17.0]]],
                },
                "properties": {"kind": "special-caution-area", "name": "Dateline box"},
            }
        ],
    }
    (zone,) = zones_from_geojson(doc)
    assert zone.id == "dateline-box"


def register_example_parties(deployment: Deployment) -> None:
    """The parties the example zones permit: an import refuses a zone naming a party not registered."""
    deployment.registry.add_party(Party("coalition", "Coalition"))
    deployment.registry.add_party(Party("un", "United Nations"))


def test_bad_import_changes_nothing_stored(deployment: Deployment):
    register_example_parties(deployment)
    deployment.zones.import_document(example())
    before = deployment.zones.export_document()
    bad = with_change(3, set_prop("kind", "nope"))
    bad["features"][0]["properties"]["name"] = "Renamed"
    with pytest.raises(ValidationError):
        deployment.zones.import_document(bad, replace=True)
    assert deployment.zones.export_document() == before


def test_existing_ids_need_replace_and_nothing_changes_without_it(deployment: Deployment):
    register_example_parties(deployment)
    deployment.zones.import_document(example())
    before = deployment.zones.export_document()
    renamed = copy.deepcopy(example())
    renamed["features"][0]["properties"]["name"] = "Renamed"
    with pytest.raises(ConflictError, match="eastern-ghouta"):
        deployment.zones.import_document(renamed)
    assert deployment.zones.export_document() == before
    deployment.zones.import_document(renamed, replace=True)
    assert {z.name for z in deployment.zones.list()} >= {"Renamed"}
    assert len(deployment.zones.list()) == 4


def test_export_feeds_straight_back_into_import_without_json():
    zones = zones_from_geojson(example())
    assert zones_from_geojson(zones_to_geojson(zones)) == zones
