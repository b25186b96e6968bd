"""Build src/keepclear/data/basemap/middle-east-countries.geojson from npm world-atlas (countries-50m).

Run once by hand, the result is committed (nothing downloads at run time):

    cd /tmp && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python scripts/build_basemap.py /tmp/package/countries-50m.json

world-atlas (ISC licence, Mike Bostock) packages Natural Earth 1:50m admin-0 countries (public domain).
The TopoJSON is decoded here (quantised, delta-encoded arcs), clipped to the Middle East and simplified
so the file stays small; it draws the country outlines under the after-action report's map figures.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from shapely.geometry import MultiPolygon, Polygon, box, mapping

BBOX = (25.0, 12.0, 62.0, 42.0)  # lon_min, lat_min, lon_max, lat_max
TOLERANCE_DEG = 0.01
OUT = Path(__file__).resolve().parents[1] / "src/keepclear/data/basemap/middle-east-countries.geojson"


def decode_arcs(topology: dict[str, Any]) -> list[list[tuple[float, float]]]:
    """Absolute lon/lat arcs of a quantised TopoJSON topology."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[tuple[float, float]]:
    """A ring from arc indices (``~i`` is arc ``i`` reversed); shared end points are kept once."""
    points: list[tuple[float, float]] = []
    for index in indices:
        arc = arcs[index] if index >= 0 else list(reversed(arcs[~index]))
        points.extend(arc if not points else arc[1:])
    return points


def geometry(arcs: list[list[tuple[float, float]]], geom: dict[str, Any]) -> MultiPolygon | Polygon | None:
    """A shapely (multi)polygon of a TopoJSON geometry."""
    if geom["type"] == "Polygon":
        rings = [ring(arcs, r) for r in geom["arcs"]]
        return Polygon(rings[0], rings[1:])
    if geom["type"] == "MultiPolygon":
        polys = []
        for poly in geom["arcs"]:
            rings = [ring(arcs, r) for r in poly]
            polys.append(Polygon(rings[0], rings[1:]))
        return MultiPolygon(polys)
    return None


def main(source: str) -> None:
    topology = json.loads(Path(source).read_text())
    arcs = decode_arcs(topology)
    clip = box(*BBOX)
    features = []
    for geom in topology["objects"]["countries"]["geometries"]:
        shape = geometry(arcs, geom)
        if shape is None or (not shape.is_valid and not (shape := shape.buffer(0)).is_valid):
            continue
        if not shape.intersects(clip):
            continue
        clipped = shape.intersection(clip).simplify(TOLERANCE_DEG, preserve_topology=True)
        if clipped.is_empty:
            continue
        rounded = json.loads(json.dumps(mapping(clipped)), parse_float=lambda v: round(float(v), 3))
        features.append({"type": "Feature", "properties": {"name": geom["properties"]["name"]}, "geometry": rounded})
    document = {
        "type": "FeatureCollection",
        "source": "Natural Earth 1:50m admin-0 countries via npm world-atlas 2.0.2 (ISC); clipped and simplified",
        "bbox": list(BBOX),
        "features": sorted(features, key=lambda f: f["properties"]["name"]),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"{OUT}: {len(features)} countries, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
