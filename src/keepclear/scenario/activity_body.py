"""The body of a scripted activity notification, checked for shape and passed on as a plain mapping.

The activities service owns the meaning of a notification; the scenario only makes sure what it will
hand over is well-formed (so a typo fails at load time with a line number, not mid-replay) and
resolves relative times (``+02:00``) to ISO 8601 UTC.

Fields: ``kind``, ``start``, ``end``, either ``volumes`` (each ``polygon: [[lon, lat], ...]`` or
``circle: {center: [lon, lat], radius_m}``, with ``lower_ft``/``upper_ft``) or ``route``
(``waypoints: [{lat, lon, time}]``, ``half_width_m``, ``lower_ft``, ``upper_ft``), ``priority``,
``addressees``, ``units``, ``share_units``, ``contact``, ``text``.
"""

from __future__ import annotations

from typing import Any

from keepclear.domain.zones import MAX_ALTITUDE_FT, MIN_ALTITUDE_FT
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path

_BODY = frozenset(
    {"kind", "start", "end", "volumes", "route", "priority", "addressees", "units", "share_units", "contact", "text"}
)
_VOLUME = frozenset({"polygon", "circle", "lower_ft", "upper_ft"})
_ROUTE = frozenset({"waypoints", "half_width_m", "lower_ft", "upper_ft"})
_ROUTE_POINT = frozenset({"lat", "lon", "time"})


def _position(r: FieldReader, p: Path) -> list[float] | None:
    value = r.get(p)
    if not isinstance(value, list) or len(value) != 2:
        r.problem(p, "a position must be [longitude, latitude]")
        return None
    lon = r.number((*p, 0), minimum=-180.0, maximum=180.0)
    lat = r.number((*p, 1), minimum=-90.0, maximum=90.0)
    return None if lon is None or lat is None else [lon, lat]


def _band(r: FieldReader, p: Path, out: dict[str, Any]) -> None:
    lower = r.number((*p, "lower_ft"), minimum=MIN_ALTITUDE_FT, maximum=MAX_ALTITUDE_FT)
    upper = r.number((*p, "upper_ft"), minimum=MIN_ALTITUDE_FT, maximum=MAX_ALTITUDE_FT)
    if lower is not None and upper is not None and lower > upper:
        r.problem((*p, "upper_ft"), f"band is upside down (lower_ft {lower:g} > upper_ft {upper:g})")
    out["lower_ft"], out["upper_ft"] = lower, upper


def _volume(r: FieldReader, p: Path) -> dict[str, Any]:
    raw = r.mapping(p, _VOLUME, frozenset({"lower_ft", "upper_ft"}))
    out: dict[str, Any] = {}
    if ("polygon" in raw) == ("circle" in raw):
        r.problem(p, "give exactly one of polygon or circle")
    elif "polygon" in raw:
        ring = r.sequence((*p, "polygon"))
        if ring and len(ring) < 3:
            r.problem((*p, "polygon"), f"needs at least 3 positions, has {len(ring)}")
        positions = [_position(r, (*p, "polygon", i)) for i in range(len(ring))]
        if positions and positions[0] != positions[-1]:
            positions.append(positions[0])  # the service takes a closed GeoJSON ring
        out["geometry"] = {"type": "Polygon", "coordinates": [positions]}
    else:
        r.mapping((*p, "circle"), frozenset({"center", "radius_m"}), frozenset({"center", "radius_m"}))
        center = _position(r, (*p, "circle", "center"))
        out["circle"] = {
            "lat": center[1] if center else None,
            "lon": center[0] if center else None,
            "radius_m": r.number((*p, "circle", "radius_m"), minimum=0.0, exclusive_minimum=True),
        }
    _band(r, p, out)
    return out


def _route(r: FieldReader, p: Path, start_s: float | None, end_s: float | None) -> dict[str, Any]:
    r.mapping(p, _ROUTE, frozenset({"waypoints", "half_width_m", "lower_ft", "upper_ft"}))
    points: list[dict[str, Any]] = []
    previous_s: float | None = None
    raw = r.sequence((*p, "waypoints"))
    if raw and len(raw) < 2:
        r.problem((*p, "waypoints"), "a route needs at least 2 waypoints")
    for i in range(len(raw)):
        q: Path = (*p, "waypoints", i)
        r.mapping(q, _ROUTE_POINT, _ROUTE_POINT)
        time_s = r.time((*q, "time"))
        if time_s is not None and previous_s is not None and time_s < previous_s:
            r.problem((*q, "time"), "is before the previous waypoint's time")
        if time_s is not None and start_s is not None and end_s is not None and not start_s <= time_s <= end_s:
            r.problem((*q, "time"), "is outside the activity's start..end")
        previous_s = time_s if time_s is not None else previous_s
        points.append(
            {
                "lat": r.number((*q, "lat"), minimum=-90.0, maximum=90.0),
                "lon": r.number((*q, "lon"), minimum=-180.0, maximum=180.0),
                "time": r.iso_time((*q, "time")),
            }
        )
    out: dict[str, Any] = {
        "waypoints": points,
        "half_width_m": r.number((*p, "half_width_m"), minimum=0.0, exclusive_minimum=True),
    }
    _band(r, p, out)
    return out


def _party_list(r: FieldReader, p: Path, known: set[str], what: str) -> list[str]:
    out: list[str] = []
    for i, _ in enumerate(r.sequence(p, required=False)):
        value = r.ident((*p, i))
        if value is not None and value not in known:
            r.problem((*p, i), f"no {what} {value!r} here")
        elif value is not None:
            out.append(value)
    return out


def read_activity_body(
    r: FieldReader, p: Path, party: str | None, party_ids: set[str], unit_party: dict[str, str]
) -> dict[str, Any] | None:
    """The activity body at ``p`` as a plain mapping with times in ISO 8601 UTC, or None when invalid.

    ``party`` is the notifier: it may not address itself, and ``units`` must be its own.
    """
    before = len(r.problems)
    raw = r.mapping(p, _BODY, frozenset({"kind", "start", "end", "addressees"}))
    body: dict[str, Any] = {"kind": r.text((*p, "kind"))}
    start_s, end_s = r.time((*p, "start")), r.time((*p, "end"))
    if start_s is not None and end_s is not None and end_s <= start_s:
        r.problem((*p, "end"), "must be after start")
    body["start"], body["end"] = r.iso_time((*p, "start")), r.iso_time((*p, "end"))
    if ("volumes" in raw) == ("route" in raw):
        r.problem(p, "give exactly one of volumes (4D areas) or route (a timed corridor)")
    elif "volumes" in raw:
        volumes = r.sequence((*p, "volumes"))
        if not volumes:
            r.problem((*p, "volumes"), "needs at least one volume")
        body["volumes"] = [_volume(r, (*p, "volumes", i)) for i in range(len(volumes))]
    else:
        body["route"] = _route(r, (*p, "route"), start_s, end_s)
    others = party_ids - ({party} if party else set())
    body["addressees"] = _party_list(r, (*p, "addressees"), others, "other party")
    if "addressees" in raw and not body["addressees"]:
        r.problem((*p, "addressees"), "needs at least one other party")
    own_units = {unit for unit, owner in unit_party.items() if owner == party}
    body["units"] = _party_list(r, (*p, "units"), own_units, "unit of the notifying party")
    body["share_units"] = r.boolean((*p, "share_units"), False)
    body["priority"] = r.text((*p, "priority"), required=False, default="routine")
    for name in ("contact", "text"):
        if name in raw:
            body[name] = r.text((*p, name))
    return body if len(r.problems) == before else None
