"""Activities to and from plain documents (JSON or YAML mappings), checked field by field.

The document (see ``docs/activities.md``)::

    id: coalition-strike-0412           # optional (begins with the party's id and -); made up when missing
    kind: air-operation                 # air-operation, ground-movement, naval-movement,
                                        # surveillance-flight, humanitarian-movement,
                                        # humanitarian-site, other
    start: 2017-11-02T10:00:00Z         # ISO 8601 with a zone
    end: 2017-11-02T14:00:00Z
    priority: routine                   # routine (default), priority, immediate
    addressees: all                     # or a list of party ids
    units: [viper11, viper12]           # optional, the notifier's unit ids
    share_units: false                  # addressees see the units only when true
    contact: "CAOC duty officer, channel 2"
    text: "Strike package, two flights"
    volumes:                            # several 4D volumes ...
      - geometry: {type: Polygon, coordinates: [[[38.9, 35.9], [39.1, 35.9], [39.1, 36.1], [38.9, 35.9]]]}
        lower_ft: 15000
        upper_ft: 30000
        start: 2017-11-02T10:00:00Z     # optional: the activity's window when missing
        end: 2017-11-02T12:00:00Z
      - circle: {lat: 35.5, lon: 38.5, radius_m: 5000}
        lower_ft: 0
        upper_ft: 10000
    route:                              # ... or one timed route, not both
      half_width_m: 2000
      lower_ft: 0
      upper_ft: 500
      waypoints:
        - {lat: 35.0, lon: 38.0, time: 2017-11-02T10:00:00Z}
        - {lat: 35.2, lon: 38.3, time: 2017-11-02T11:30:00Z}

``epoch_times=True`` writes and reads times as epoch seconds instead (the stored form).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from shapely.geometry import Polygon, shape

from keepclear.domain.activities import (
    MAX_VERTICES,
    Activity,
    ActivityKind,
    ActivityStatus,
    Circle,
    Priority,
    Route,
    Volume,
    Waypoint,
    in_batch,
)
from keepclear.domain.limits import bounded_problems, text_problem
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.domain.zones import AltitudeBand
from keepclear.errors import ValidationError
from keepclear.geo.zone_geojson import coordinate_problems

_TOP_FIELDS = frozenset(
    {"id", "party", "kind", "start", "end", "priority", "addressees", "units", "share_units", "contact", "text",
     "volumes", "route"}
)  # fmt: skip
_VOLUME_FIELDS = frozenset({"geometry", "circle", "lower_ft", "upper_ft", "start", "end"})
_ROUTE_FIELDS = frozenset({"half_width_m", "lower_ft", "upper_ft", "waypoints"})


class _Reader:
    """Collects every problem of one document instead of stopping at the first."""

    def __init__(self, epoch_times: bool) -> None:
        self.problems: list[str] = []
        self.epoch_times = epoch_times
        #: Polygon positions counted so far (input is judged one by one only up to ``MAX_VERTICES``).
        self.vertices = 0

    def unknown(self, mapping: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in sorted(set(mapping) - allowed, key=str):
            self.problems.append(f"{where}{key}: unknown field (allowed: {', '.join(sorted(allowed))})")

    def number(self, mapping: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
        value = mapping.get(key, default)
        if value is None:
            self.problems.append(f"{where}{key}: missing")
            return math.nan
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            self.problems.append(f"{where}{key}: {value!r} is not a finite number")
            return math.nan
        return float(value)

    def time(self, mapping: dict[str, Any], key: str, where: str, default: float | None = None) -> float:
        value = mapping.get(key)
        if value is None:
            if default is not None:
                return default
            self.problems.append(f"{where}{key}: missing")
            return math.nan
        if self.epoch_times:
            return self.number(mapping, key, where)
        try:
            return parse_utc(value, f"{where}{key}")
        except ValueError as exc:
            self.problems.append(str(exc))
            return math.nan

    def text(self, mapping: dict[str, Any], key: str, where: str, default: str = "") -> str:
        value = mapping.get(key, default)
        if not isinstance(value, str):
            self.problems.append(f"{where}{key}: must be text")
            return default
        # A file (YAML's "\\0", "\\ud800") reaches here unjudged by the API's JSON reader; what is
        # stored already is read back whatever it holds.
        if not self.epoch_times and (problem := text_problem(value, f"{where}{key}")):
            self.problems.append(problem)
            return default
        return value

    def choice(self, mapping: dict[str, Any], key: str, enum_type: Any, default: Any = None) -> Any:
        value = mapping.get(key, default)
        try:
            return enum_type(value)
        except ValueError:
            allowed = ", ".join(e.value for e in enum_type)
            self.problems.append(f"{key}: {value!r} is not one of {allowed}")
            return default

    def band(self, mapping: dict[str, Any], where: str) -> AltitudeBand:
        return AltitudeBand(self.number(mapping, "lower_ft", where), self.number(mapping, "upper_ft", where))


def _volume(reader: _Reader, raw: Any, index: int, start_s: float, end_s: float) -> Volume | None:
    where = f"volumes[{index}]."
    if not isinstance(raw, dict):
        reader.problems.append(f"volumes[{index}]: must be a mapping")
        return None
    reader.unknown(raw, _VOLUME_FIELDS, where)
    area: Polygon | Circle | None = None
    if ("geometry" in raw) == ("circle" in raw):
        reader.problems.append(f"volumes[{index}]: give a geometry (GeoJSON Polygon) or a circle, exactly one")
    elif "geometry" in raw:
        geometry = raw["geometry"]
        if not isinstance(geometry, dict) or geometry.get("type") != "Polygon":
            reader.problems.append(f"{where}geometry: must be a GeoJSON Polygon")
        else:
            coordinates = geometry.get("coordinates")
            reader.vertices += _polygon_positions(geometry)
            if reader.vertices > MAX_VERTICES and not reader.epoch_times:  # stored ones are read back whatever
                if not any(p.startswith("volumes: more than") for p in reader.problems):
                    reader.problems.append(f"volumes: more than {MAX_VERTICES} polygon positions in all")
                return None
            found = coordinate_problems("Polygon", coordinates, f"{where}geometry")
            reader.problems += found
            if not found:
                polygon = shape(geometry)
                assert isinstance(polygon, Polygon)
                area = polygon
    else:
        circle = raw["circle"]
        if not isinstance(circle, dict):
            reader.problems.append(f"{where}circle: must be a mapping with lat, lon, radius_m")
        else:
            reader.unknown(circle, frozenset({"lat", "lon", "radius_m"}), f"{where}circle.")
            area = Circle(
                reader.number(circle, "lat", f"{where}circle."),
                reader.number(circle, "lon", f"{where}circle."),
                reader.number(circle, "radius_m", f"{where}circle."),
            )
    band = reader.band(raw, where)
    start = reader.time(raw, "start", where, default=start_s)
    end = reader.time(raw, "end", where, default=end_s)
    return None if area is None else Volume(area, band, start, end)


def _route(reader: _Reader, raw: Any) -> Route | None:
    if not isinstance(raw, dict):
        reader.problems.append("route: must be a mapping")
        return None
    reader.unknown(raw, _ROUTE_FIELDS, "route.")
    waypoints: list[Waypoint] = []
    raw_points = raw.get("waypoints")
    if not isinstance(raw_points, list):
        reader.problems.append("route.waypoints: must be a list")
        raw_points = []
    for index, point in enumerate(raw_points):
        where = f"route.waypoints[{index}]."
        if not isinstance(point, dict):
            reader.problems.append(f"route.waypoints[{index}]: must be a mapping with lat, lon, time")
            continue
        reader.unknown(point, frozenset({"lat", "lon", "time"}), where)
        waypoints.append(
            Waypoint(
                reader.number(point, "lat", where),
                reader.number(point, "lon", where),
                reader.time(point, "time", where),
            )
        )
    return Route(tuple(waypoints), reader.number(raw, "half_width_m", "route."), reader.band(raw, "route."))


def _polygon_positions(geometry: object) -> int:
    """The positions a GeoJSON Polygon mapping gives, every ring's (0 for anything else)."""
    coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
    if not isinstance(coordinates, list):
        return 0
    return sum(len(ring) for ring in coordinates if isinstance(ring, list))


def document_vertices(document: object) -> int:
    """The geometry positions an activity document gives: its volumes' polygon positions (holes
    included, a circle none) and its route's waypoints, counted without reading anything else.

    Checking, viewing, signing and streaming an activity costs in proportion to them, and reading them
    is most of what a large body costs: a party's vertex tokens (``activity_vertex_burst``) are taken
    for this count before the document is read, so a body refused for them costs only its parse. A
    ring given open is closed when read, one position more than counted here."""
    if not isinstance(document, dict):
        return 0
    volumes = document.get("volumes")
    count = 0
    if isinstance(volumes, list):
        count += sum(_polygon_positions(v.get("geometry")) for v in volumes if isinstance(v, dict))
    route = document.get("route")
    waypoints = route.get("waypoints") if isinstance(route, dict) else None
    return count + (len(waypoints) if isinstance(waypoints, list) else 0)


def activity_from_document(
    document: object, *, party_id: str, activity_id: str | None = None, epoch_times: bool = False
) -> Activity:
    """Read an activity notified by ``party_id``; ``ValidationError`` lists every problem found.

    Structure only (types, names, formats); ``activity_problems`` judges the values. The document's
    ``party``, when given, must be ``party_id``.
    """
    if not isinstance(document, dict):
        raise ValidationError(["document: must be a mapping of fields (kind, start, end, volumes or route, ...)"])
    reader = _Reader(epoch_times)
    reader.unknown(document, _TOP_FIELDS, "")
    if "party" in document and document["party"] != party_id:
        reader.problems.append(f"party: {document['party']!r} differs from the notifying party {party_id!r}")
    given_id = document.get("id", activity_id)
    if not isinstance(given_id, str) and given_id is not None:
        reader.problems.append("id: must be text")
    kind = reader.choice(document, "kind", ActivityKind)
    priority = reader.choice(document, "priority", Priority, Priority.ROUTINE)
    start_s = reader.time(document, "start", "")
    end_s = reader.time(document, "end", "")
    addressees_raw = document.get("addressees", "all")
    addressees: frozenset[str] | None = None
    if addressees_raw != "all":
        if isinstance(addressees_raw, list) and all(isinstance(a, str) for a in addressees_raw):
            addressees = frozenset(addressees_raw)
        else:
            reader.problems.append('addressees: must be "all" or a list of party ids')
    units_raw = document.get("units", [])
    units: tuple[str, ...] = ()
    if isinstance(units_raw, list) and all(isinstance(u, str) for u in units_raw):
        units = tuple(units_raw)
    else:
        reader.problems.append("units: must be a list of unit ids")
    share_units = document.get("share_units", False)
    if not isinstance(share_units, bool):
        reader.problems.append("share_units: must be true or false")
        share_units = False
    volumes_raw = document.get("volumes", [])
    volumes: list[Volume] = []
    if not isinstance(volumes_raw, list):
        reader.problems.append("volumes: must be a list")
    else:
        for index, raw in enumerate(volumes_raw):
            if (volume := _volume(reader, raw, index, start_s, end_s)) is not None:
                volumes.append(volume)
    route = None if document.get("route") is None else _route(reader, document["route"])
    contact = reader.text(document, "contact", "")
    text = reader.text(document, "text", "")
    if reader.problems:
        raise ValidationError(reader.problems)
    return Activity(
        id=given_id or "",
        party_id=party_id,
        kind=kind,
        start_s=start_s,
        end_s=end_s,
        volumes=tuple(volumes),
        route=route,
        priority=priority,
        addressees=addressees,
        units=units,
        share_units=share_units,
        contact=contact,
        text=text,
        status=ActivityStatus.DRAFT,
    )


def batch_documents(document: object) -> list[object] | None:
    """The activity documents of a batch file (a list, or a mapping of ``activities`` alone: the body
    of POST /v1/activities/batch), or None when ``document`` is one activity."""
    if isinstance(document, list):
        return document
    if isinstance(document, dict) and set(document) == {"activities"} and isinstance(document["activities"], list):
        return list(document["activities"])
    return None


def activities_from_documents(
    documents: Sequence[object], *, party_id: str, max_problems_listed: int = 50
) -> list[Activity]:
    """Read a batch of activities notified by ``party_id``; ``ValidationError`` lists the problems of
    every document (the first ``max_problems_listed``, and how many more), each named
    ``activities[i].<field>``."""
    read: list[Activity] = []
    problems: list[str] = []
    for index, document in enumerate(documents):
        try:
            read.append(activity_from_document(document, party_id=party_id))
        except ValidationError as exc:
            problems += [in_batch(index, p) for p in exc.problems]
    if problems:
        raise ValidationError(bounded_problems(problems, max_problems_listed))
    return read


def activity_to_document(activity: Activity, *, epoch_times: bool = False, units: bool = True) -> dict[str, Any]:
    """The activity as a document ``activity_from_document`` reads back (``units=False`` leaves them out)."""

    def when(time_s: float) -> float | str:
        return time_s if epoch_times else format_utc(time_s)

    document: dict[str, Any] = {
        "id": activity.id,
        "party": activity.party_id,
        "kind": activity.kind.value,
        "start": when(activity.start_s),
        "end": when(activity.end_s),
        "priority": activity.priority.value,
        "addressees": "all" if activity.addressees is None else sorted(activity.addressees),
        "contact": activity.contact,
        "text": activity.text,
    }
    if units:
        document["units"] = list(activity.units)
        document["share_units"] = activity.share_units
    volumes = []
    for volume in activity.volumes:
        raw: dict[str, Any] = {}
        if isinstance(volume.area, Circle):
            raw["circle"] = {"lat": volume.area.lat_deg, "lon": volume.area.lon_deg, "radius_m": volume.area.radius_m}
        else:
            raw["geometry"] = {
                "type": "Polygon",
                "coordinates": [[list(c) for c in volume.area.exterior.coords]]
                + [[list(c) for c in ring.coords] for ring in volume.area.interiors],
            }
        raw.update(
            lower_ft=volume.altitude.lower_ft,
            upper_ft=volume.altitude.upper_ft,
            start=when(volume.start_s),
            end=when(volume.end_s),
        )
        volumes.append(raw)
    if volumes:
        document["volumes"] = volumes
    if activity.route is not None:
        route = activity.route
        document["route"] = {
            "half_width_m": route.half_width_m,
            "lower_ft": route.altitude.lower_ft,
            "upper_ft": route.altitude.upper_ft,
            "waypoints": [{"lat": w.lat_deg, "lon": w.lon_deg, "time": when(w.time_s)} for w in route.waypoints],
        }
    return document
