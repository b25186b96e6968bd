"""The console's static files: offline basemap content and size, vendored libraries recorded."""

from __future__ import annotations

import json
import re

from shapely.geometry import Point, shape

from keepclear.console.router import static_root

STATIC = static_root()


def features(name: str) -> list[dict]:
    return json.loads((STATIC / "basemap" / f"{name}.geojson").read_text())["features"]


def test_the_euphrates_is_in_the_basemap_rivers():
    rivers = [shape(f["geometry"]) for f in features("rivers")]
    # Raqqa, Deir ez-Zor (Syria) and Haditha (Iraq) lie on the Euphrates.
    for lon, lat in ((39.01, 35.95), (40.14, 35.34), (42.37, 34.14)):
        assert min(r.distance(Point(lon, lat)) for r in rivers) < 0.08, (lon, lat)


def test_basemap_layers_are_clipped_and_small():
    total = sum(p.stat().st_size for p in (STATIC / "basemap").glob("*.geojson"))
    assert total < 5 * 1024 * 1024
    west, south, east, north = json.loads((STATIC / "basemap" / "meta.json").read_text())["bbox"]
    for name in ("land", "countries", "coastlines", "lakes", "rivers"):
        for f in features(name):
            minx, miny, maxx, maxy = shape(f["geometry"]).bounds
            assert west - 1e-6 <= minx and maxx <= east + 1e-6 and south - 1e-6 <= miny and maxy <= north + 1e-6, name
    names = {f["properties"].get("name") for f in features("countries")}
    assert {"Syria", "Iraq", "Lebanon", "Jordan", "Turkey"} <= names


def test_places_have_names_ranks_and_plausible_coordinates():
    places = features("places")
    assert len(places) >= 40
    for f in places:
        lon, lat = f["geometry"]["coordinates"]
        assert f["properties"]["name"] and f["properties"]["rank"] in (1, 2, 3)
        assert 24 <= lon <= 60 and 22 <= lat <= 45


def test_every_vendored_file_is_recorded_with_version_and_licence():
    vendor = (STATIC / "vendor" / "VENDOR.md").read_text()
    for row, version in (("maplibre-gl", r"6\.\d+\.\d+"), ("milsymbol", r"3\.\d+\.\d+"), ("DejaVu Sans", r"2\.\d+")):
        assert re.search(rf"\| {row} \| {version}", vendor), row
    for path in (
        "vendor/maplibre-gl/maplibre-gl.mjs",
        "vendor/maplibre-gl/maplibre-gl-worker.mjs",
        "vendor/maplibre-gl/LICENSE.txt",
        "vendor/milsymbol/milsymbol.js",
        "vendor/milsymbol/LICENSE",
        "fonts/DejaVuSans.ttf",
        "fonts/LICENSE-DejaVu.txt",
    ):
        assert (STATIC / path).is_file(), path


def test_all_api_access_of_the_console_is_in_api_js():
    for path in (STATIC / "js").glob("*.js"):
        if path.name == "api.js":
            continue
        text = path.read_text()
        assert "fetch(" not in text and "/v1/" not in text and "EventSource" not in text, path.name
