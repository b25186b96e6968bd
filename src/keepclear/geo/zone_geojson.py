"""Zones to and from GeoJSON features (RFC 7946), validated whole before anything is kept.

Properties, flat so GIS tools can edit them: ``kind``, ``name``, ``lower_ft``, ``upper_ft``,
``valid_from``/``valid_until`` (ISO 8601 with zone, or null), ``permitted_parties`` (a list of party
ids, or ``"*"`` for every party), ``min_notice_h``, ``buffer_m`` (deconfliction lines),
``radius_m`` (an area given as a point: a circle), ``description`` and ``names`` (the name in other
languages, language tag -> name: ``{"ru": "Эт-Танф"}``; readers see ``name`` where their language
is missing). The id is the feature's
``id`` or ``properties.id``; without either it is derived from the name.

Nothing is repaired: an unclosed ring, a self-intersection or a coordinate out of range is an
error naming the feature index, never a quiet fix. The altitude band lies within
[``MIN_ALTITUDE_FT``, ``MAX_ALTITUDE_FT``] (``domain.zones.altitude_band_problems``, as activities'
bands do); given the registered party ids, a permitted party that is not one of them is an error too.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Sequence
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from keepclear.domain.ids import id_problem
from keepclear.domain.limits import DEFAULT_LIMITS, InputLimits, bounded_problems
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.domain.zones import (
    AltitudeBand,
    Validity,
    Zone,
    ZoneKind,
    ZoneRules,
    altitude_band_problems,
    names_problems,
    zone_problems,
)
from keepclear.errors import ValidationError
from keepclear.geo.shapes import plane_for, to_plane

_KNOWN_PROPERTIES = frozenset(
    {
        "id", "kind", "name", "lower_ft", "upper_ft", "valid_from", "valid_until", "permitted_parties",
        "min_notice_h", "buffer_m", "radius_m", "description", "names",
    }
)  # fmt: skip


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _position_problems(position: object, where: str) -> list[str]:
    if not isinstance(position, (list, tuple)) or not 2 <= len(position) <= 3:
        return [f"{where}: a position must be [longitude, latitude] or [longitude, latitude, altitude]"]
    lon, lat = position[0], position[1]
    problems: list[str] = []
    if not (_is_number(lon) and _is_number(lat)):
        return [f"{where}: coordinates must be numbers, got {list(position)!r}"]
    assert isinstance(lon, (int, float)) and isinstance(lat, (int, float))
    if not (math.isfinite(lon) and math.isfinite(lat)):
        return [f"{where}: coordinates must be finite numbers, got [{lon!r}, {lat!r}] (NaN or infinity)"]
    if not -180.0 <= lon <= 180.0:
        problems.append(f"{where}: longitude {lon!r} is outside [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        problems.append(f"{where}: latitude {lat!r} is outside [-90, 90]")
    for extra in position[2:]:
        if not _is_number(extra) or not math.isfinite(extra):
            problems.append(f"{where}: altitude {extra!r} is not a finite number")
    return problems


def coordinate_problems(geometry_type: str, coords: Any, where: str) -> list[str]:
    """Check nesting, ranges, closure and vertex counts of raw GeoJSON coordinates."""
    problems: list[str] = []

    def positions(value: Any, label: str, minimum: int) -> list[str]:
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            return [f"{label}: empty coordinates"]
        out: list[str] = []
        for index, position in enumerate(value):
            out += _position_problems(position, f"{label} position {index}")
        if not out and len(value) < minimum:
            out.append(f"{label}: needs at least {minimum} positions, has {len(value)}")
        return out

    def ring(value: Any, label: str) -> list[str]:
        out = positions(value, label, 4)
        if not out and list(value[0][:2]) != list(value[-1][:2]):
            out.append(f"{label}: ring is not closed (first position {value[0]!r} differs from last {value[-1]!r})")
        return out

    def polygon(value: Any, label: str) -> list[str]:
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            return [f"{label}: empty polygon"]
        out: list[str] = []
        for index, rng in enumerate(value):
            out += ring(rng, f"{label} ring {index}")
        return out

    def many(value: Any, label: str, part: Any) -> list[str]:
        if not isinstance(value, (list, tuple)) or len(value) == 0:
            return [f"{label}: empty geometry"]
        out: list[str] = []
        for index, item in enumerate(value):
            out += part(item, f"{label} part {index}")
        return out

    if geometry_type == "Point":
        problems += _position_problems(coords, where) if coords not in (None, []) else [f"{where}: empty geometry"]
    elif geometry_type == "LineString":
        problems += positions(coords, where, 2)
    elif geometry_type == "MultiLineString":
        problems += many(coords, where, lambda v, label: positions(v, label, 2))
    elif geometry_type == "Polygon":
        problems += polygon(coords, where)
    elif geometry_type == "MultiPolygon":
        problems += many(coords, where, polygon)
    else:
        problems.append(f"{where}: geometry type {geometry_type!r} is not supported")
    if not problems:
        problems += _mixed_dimensions(geometry_type, coords, where)
    return problems


def _mixed_dimensions(geometry_type: str, coords: Any, where: str) -> list[str]:
    """A problem when positions of one geometry (already checked) mix 2 and 3 numbers: shapely
    cannot build such a shape (it raised, a 500), and its altitude would mean nothing.

    >>> _mixed_dimensions("LineString", [[0, 0], [1, 1, 5]], "geometry")
    ['geometry: positions mix 2 and 3 numbers; give every position the same (altitude on all or none)']
    """
    depth = {"Point": 0, "LineString": 1, "MultiLineString": 2, "Polygon": 2, "MultiPolygon": 3}[geometry_type]
    level = [coords]
    for _ in range(depth):
        level = [item for items in level for item in items]
    if len({len(position) for position in level}) < 2:
        return []
    return [f"{where}: positions mix 2 and 3 numbers; give every position the same (altitude on all or none)"]


def _geometry(feature: dict[str, Any], where: str) -> tuple[BaseGeometry | None, list[str]]:
    raw = feature.get("geometry")
    if not isinstance(raw, dict):
        return None, [f"{where} geometry: missing or empty"]
    geometry_type = raw.get("type")
    if not isinstance(geometry_type, str):
        return None, [f"{where} geometry: has no type"]
    problems = coordinate_problems(geometry_type, raw.get("coordinates"), f"{where} geometry")
    if problems:
        return None, problems
    return shape_problems(raw, f"{where} geometry")


def shape_problems(raw: dict[str, Any], where: str) -> tuple[BaseGeometry | None, list[str]]:
    """The shape of GeoJSON geometry ``raw`` whose coordinates passed ``coordinate_problems``, or why
    it cannot be a zone (at ``where``): empty, a polygon that is not valid (self-intersecting, a hole
    outside its shell, no area), a line of zero length. A zone proposal is judged by it too, so that
    what a party proposes is what an admin can accept."""
    geometry = shape(raw)
    if geometry.is_empty:
        return None, [f"{where}: empty geometry"]
    geometry_type = raw["type"]
    if geometry_type in ("Polygon", "MultiPolygon", "LineString", "MultiLineString"):
        # Judge validity where edges are straight in metres, the short way round.
        projected = to_plane(geometry, plane_for(geometry))
        if geometry_type in ("Polygon", "MultiPolygon") and not projected.is_valid:
            return None, [f"{where}: invalid polygon ({explain_validity(projected)})"]
        if geometry_type in ("LineString", "MultiLineString") and shapely.length(projected) == 0:
            return None, [f"{where}: line has zero length"]
    return geometry, []


def _number(props: dict[str, Any], name: str, default: float, where: str, problems: list[str]) -> float:
    value = props.get(name, default)
    if value is None:
        return default
    if not _is_number(value) or not math.isfinite(value):
        problems.append(f"{where} properties.{name}: {value!r} is not a finite number")
        return default
    return float(value)


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:64] or "zone"


def zone_from_feature(feature: object, index: int, parties: Collection[str] | None = None) -> Zone:
    """One feature to a ``Zone``; ``ValidationError`` lists every problem with the feature index.

    ``parties``: the registered party ids, which every permitted party must be one of (``None``: not
    checked, for a file read without a deployment; every import into one passes them)."""
    where = f"feature {index}"
    if not isinstance(feature, dict) or feature.get("type") != "Feature":
        raise ValidationError([f"{where}: not a GeoJSON Feature object"])
    props = feature.get("properties")
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise ValidationError([f"{where} properties: must be an object"])
    problems: list[str] = []
    unknown = sorted(set(props) - _KNOWN_PROPERTIES)
    if unknown:
        problems.append(
            f"{where} properties: unknown {', '.join(unknown)} (known: {', '.join(sorted(_KNOWN_PROPERTIES))})"
        )
    geometry, geometry_problems = _geometry(feature, where)
    problems += geometry_problems

    kind_text = props.get("kind")
    kind: ZoneKind | None = None
    if isinstance(kind_text, str) and kind_text in ZoneKind.__members__.values():
        kind = ZoneKind(kind_text)
    else:
        known = ", ".join(k.value for k in ZoneKind)
        problems.append(f"{where} properties.kind: unknown kind {kind_text!r} (known: {known})")
    name = props.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{where} properties.name: must be a non-empty string")
        name = ""
    zone_id = feature.get("id", props.get("id"))
    if zone_id is None:
        zone_id = _slug(name) if name else None
    if zone_id is not None and (problem := id_problem(zone_id, f"{where} id")):
        problems.append(problem)

    found_before = len(problems)
    lower_ft = _number(props, "lower_ft", AltitudeBand().lower_ft, where, problems)
    upper_ft = _number(props, "upper_ft", AltitudeBand().upper_ft, where, problems)
    if len(problems) == found_before:  # both numbers: within the bounds every band keeps, and not upside down
        problems += altitude_band_problems(lower_ft, upper_ft, f"{where} properties")
    min_notice_h = _number(props, "min_notice_h", 0.0, where, problems)
    buffer_value = _number(props, "buffer_m", 0.0, where, problems)
    radius_value = _number(props, "radius_m", 0.0, where, problems)
    if "buffer_m" in props and "radius_m" in props:
        problems.append(f"{where} properties: give buffer_m (lines) or radius_m (circles), not both")

    validity: dict[str, float | None] = {}
    for field in ("valid_from", "valid_until"):
        value = props.get(field)
        try:
            validity[field] = None if value is None else parse_utc(value, f"{where} properties.{field}")
        except ValueError as exc:
            problems.append(str(exc))
            validity[field] = None

    permitted_raw = props.get("permitted_parties", [])
    permitted: frozenset[str] | None = frozenset()
    if permitted_raw == "*":
        permitted = None
    elif isinstance(permitted_raw, list) and all(isinstance(p, str) for p in permitted_raw):
        for position, party in enumerate(permitted_raw):
            if problem := id_problem(party, f"{where} properties.permitted_parties[{position}]"):
                problems.append(problem)
            elif parties is not None and party not in parties:
                problems.append(f"{where} properties.permitted_parties[{position}]: no party {party!r} is registered")
        permitted = frozenset(permitted_raw)
    else:
        problems.append(f'{where} properties.permitted_parties: must be a list of party ids or "*"')

    description = props.get("description", "")
    if not isinstance(description, str):
        problems.append(f"{where} properties.description: must be a string")
        description = ""

    names = props.get("names", {})
    names_found = names_problems(names, f"{where} properties.names")
    problems += names_found
    names_pairs = () if names_found or not isinstance(names, dict) else tuple(sorted(names.items()))

    if problems or geometry is None or kind is None or zone_id is None:
        raise ValidationError(problems or [f"{where}: incomplete"])
    zone = Zone(
        id=zone_id,
        name=name,
        kind=kind,
        geometry=geometry,
        altitude=AltitudeBand(lower_ft, upper_ft),
        validity=Validity(validity["valid_from"], validity["valid_until"]),
        rules=ZoneRules(permitted_parties=permitted, min_notice_h=min_notice_h),
        buffer_m=radius_value if "radius_m" in props else buffer_value,
        description=description,
        names=names_pairs,
    )
    field_problems = zone_problems(zone)
    if field_problems:
        raise ValidationError([f"{where} {p}" for p in field_problems])
    return zone


def vertex_count(coordinates: object) -> int:
    """Positions in raw GeoJSON ``coordinates`` at any nesting (without recursion).

    >>> vertex_count([[[0, 0], [1, 0], [1, 1], [0, 0]]])
    4
    """
    count = 0
    stack = [coordinates]
    while stack:
        value = stack.pop()
        if isinstance(value, list | tuple):
            if value and not isinstance(value[0], list | tuple):
                count += 1
            else:
                stack.extend(value)
    return count


def _feature_vertices(feature: object) -> int:
    geometry = feature.get("geometry") if isinstance(feature, dict) else None
    return vertex_count(geometry.get("coordinates")) if isinstance(geometry, dict) else 0


def zones_from_geojson(
    document: object, limits: InputLimits = DEFAULT_LIMITS, parties: Collection[str] | None = None
) -> list[Zone]:
    """Every zone of a FeatureCollection, or ``ValidationError`` listing every bad feature (the first
    ``limits.max_problems_listed`` of them, and how many more). ``parties``: the registered party ids
    every permitted party must be one of (``zone_from_feature``).

    All or nothing: one bad feature rejects the whole document. The document is bounded before any
    geometry is built: at most ``max_zone_features`` features, ``max_zone_vertices_per_feature``
    positions in one and ``max_zone_vertices_total`` in all.
    """
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ValidationError(["document: not a GeoJSON FeatureCollection"])
    features = document.get("features")
    if not isinstance(features, list):
        raise ValidationError(["document: 'features' must be a list"])
    if not features:
        raise ValidationError(["document: has no features"])
    if len(features) > limits.max_zone_features:
        raise ValidationError([f"document: {len(features)} features, at most {limits.max_zone_features} in one import"])
    problems: list[str] = []
    vertices = [_feature_vertices(feature) for feature in features]
    problems += [
        f"feature {index} geometry: {count} positions, at most {limits.max_zone_vertices_per_feature} in one zone"
        for index, count in enumerate(vertices)
        if count > limits.max_zone_vertices_per_feature
    ]
    if sum(vertices) > limits.max_zone_vertices_total:
        problems.append(
            f"document: {sum(vertices)} positions in all, at most {limits.max_zone_vertices_total} in one import"
        )
    if problems:
        raise ValidationError(bounded_problems(problems, limits.max_problems_listed))
    zones: list[Zone] = []
    seen: dict[str, int] = {}
    for index, feature in enumerate(features):
        try:
            zone = zone_from_feature(feature, index, parties)
        except ValidationError as exc:
            problems += exc.problems
            continue
        if zone.id in seen:
            problems.append(f"feature {index} id: {zone.id!r} is also the id of feature {seen[zone.id]}")
            continue
        seen[zone.id] = index
        zones.append(zone)
    if problems:
        raise ValidationError(bounded_problems(problems, limits.max_problems_listed))
    return zones


def zone_to_feature(zone: Zone) -> dict[str, Any]:
    """A zone as a GeoJSON Feature that ``zone_from_feature`` reads back to an equal zone."""
    props: dict[str, Any] = {
        "kind": zone.kind.value,
        "name": zone.name,
        "lower_ft": zone.altitude.lower_ft,
        "upper_ft": zone.altitude.upper_ft,
        "valid_from": None if zone.validity.valid_from_s is None else format_utc(zone.validity.valid_from_s),
        "valid_until": None if zone.validity.valid_until_s is None else format_utc(zone.validity.valid_until_s),
        "permitted_parties": "*" if zone.rules.permitted_parties is None else sorted(zone.rules.permitted_parties),
        "min_notice_h": zone.rules.min_notice_h,
        "description": zone.description,
    }
    if zone.names:  # only when given: the features (and their hashes in the record) of zones without stay as they were
        props["names"] = dict(zone.names)
    if zone.geometry.geom_type == "Point":
        props["radius_m"] = zone.buffer_m
    elif zone.buffer_m:
        props["buffer_m"] = zone.buffer_m
    return {
        "type": "Feature",
        "id": zone.id,
        "geometry": shapely.geometry.mapping(zone.geometry),
        "properties": props,
    }


def zones_to_geojson(zones: Sequence[Zone]) -> dict[str, Any]:
    """A FeatureCollection of ``zones``."""
    return {"type": "FeatureCollection", "features": [zone_to_feature(z) for z in zones]}
