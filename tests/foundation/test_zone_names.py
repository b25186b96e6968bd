"""Zone names in each reader's language: read from GeoJSON, validated, stored on both backends,
served, and carried through a database made before they existed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from keepclear.domain import Party
from keepclear.errors import ValidationError
from keepclear.geo.zone_geojson import zones_from_geojson, zones_to_geojson
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database, migrate
from keepclear.store.migrate import alembic_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "zones.geojson"
PACK_ZONES = Path(__file__).resolve().parents[2] / "src" / "keepclear" / "data" / "scenarios" / "euphrates-2017"


def named(names: object) -> dict[str, Any]:
    doc = json.loads(EXAMPLE.read_text())
    doc["features"][0]["properties"]["names"] = names
    return doc


def test_names_are_read_kept_and_written_back() -> None:
    zones = zones_from_geojson(named({"ru": "Восточная Гута", "ar": "الغوطة الشرقية"}))
    ghouta = zones[0]
    assert ghouta.names == (("ar", "الغوطة الشرقية"), ("ru", "Восточная Гута"))
    assert ghouta.name_in("ru") == "Восточная Гута"
    assert ghouta.name_in("fr") == ghouta.name  # no French name: the name
    document = zones_to_geojson(zones)
    assert document["features"][0]["properties"]["names"] == {"ar": "الغوطة الشرقية", "ru": "Восточная Гута"}
    assert "names" not in document["features"][1]["properties"]  # a zone without: as before
    assert zones_from_geojson(json.loads(json.dumps(document))) == zones


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        ("Гута", "properties.names: must be an object of language tag -> name"),
        ({"Russian": "Гута"}, "properties.names: 'Russian' is not a language tag"),
        ({"ru_RU": "Гута"}, "properties.names: 'ru_RU' is not a language tag"),
        ({"ru": ""}, "properties.names.ru: must be a non-empty string"),
        ({"ru": 7}, "properties.names.ru: must be a non-empty string"),
        ({"ru": "Г" * 201}, "properties.names.ru: 201 characters, at most 200"),
        ({"ru": "Гу\x00та"}, "properties.names.ru: contains a NUL character"),
        ({f"x{chr(97 + k // 26)}{chr(97 + k % 26)}": "n" for k in range(33)}, "33 languages, at most 32"),
    ],
)
def test_bad_names_are_refused_naming_the_feature_and_language(names: object, reason: str) -> None:
    with pytest.raises(ValidationError) as info:
        zones_from_geojson(named(names))
    assert any(p.startswith("feature 0") and reason in p for p in info.value.problems), info.value.problems


def test_language_tags_of_the_common_shapes_are_accepted() -> None:
    (zone, *_) = zones_from_geojson(named({"pt-BR": "Gota", "sr-Latn": "Guta", "ckb": "Xûta"}))
    assert [tag for tag, _ in zone.names] == ["ckb", "pt-BR", "sr-Latn"]


def test_names_are_stored_and_listed(deployment: Deployment) -> None:
    for party_id in ("coalition", "un"):  # the parties the example zones permit
        deployment.registry.add_party(Party(party_id, party_id))
    deployment.zones.import_document(named({"ru": "Восточная Гута"}))
    ghouta = next(z for z in deployment.zones.list() if z.id == "eastern-ghouta")
    assert ghouta.name_in("ru") == "Восточная Гута"
    exported = {f["id"]: f for f in deployment.zones.export_document()["features"]}
    assert exported["eastern-ghouta"]["properties"]["names"] == {"ru": "Восточная Гута"}


def test_a_database_made_before_names_keeps_its_zones(database_url: str) -> None:
    db = Database(database_url)
    try:
        command.upgrade(alembic_config(db), "0007_incident_alerts")
        with db.write() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO zones (id, name, kind, geometry, buffer_m, lower_ft, upper_ft, min_notice_h,"
                    " description, min_lon_deg, min_lat_deg, max_lon_deg, max_lat_deg) VALUES ('tanf', 'At-Tanf',"
                    ' \'protected-site\', \'{"type": "Point", "coordinates": [38.6, 33.5]}\', 55000, 0, 60000,'
                    " 0, '', 38.6, 33.5, 38.6, 33.5)"
                )
            )
        migrate(db)
        from keepclear.store.zones import list_zones

        with db.read() as conn:
            (tanf,) = list_zones(conn)
        assert tanf.names == () and tanf.name_in("ru") == "At-Tanf"
    finally:
        db.dispose()


def test_the_founding_pack_names_its_zones_in_russian() -> None:
    zones = zones_from_geojson(json.loads((PACK_ZONES / "zones.geojson").read_text(encoding="utf-8")))
    assert zones
    for zone in zones:
        russian = zone.name_in("ru")
        assert russian != zone.name, zone.id
        assert any("\u0400" <= ch <= "\u04ff" for ch in russian), (zone.id, russian)
