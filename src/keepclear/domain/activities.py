"""Notified activities: what a party plans to do, where, when, and who must be told.

An activity occupies space and time either as several 4D volumes (a polygon or a circle, an
altitude band and a time window each) or as a timed route (waypoints with times, a corridor
half-width and an altitude band). Geometry is WGS-84 longitude/latitude degrees; times are
seconds since the Unix epoch (UTC).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

from shapely.geometry import Polygon
from shapely.validation import explain_validity

from keepclear.domain.ids import id_problem
from keepclear.domain.zones import AltitudeBand, altitude_band_problems


class ActivityKind(enum.StrEnum):
    """What a notified activity is."""

    AIR_OPERATION = "air-operation"
    GROUND_MOVEMENT = "ground-movement"
    NAVAL_MOVEMENT = "naval-movement"
    SURVEILLANCE_FLIGHT = "surveillance-flight"
    HUMANITARIAN_MOVEMENT = "humanitarian-movement"
    HUMANITARIAN_SITE = "humanitarian-site"
    OTHER = "other"


class Priority(enum.StrEnum):
    """How fast addressees must acknowledge (deadlines per priority are configured in the service)."""

    ROUTINE = "routine"
    PRIORITY = "priority"
    IMMEDIATE = "immediate"


class ActivityStatus(enum.StrEnum):
    """Where an activity stands. ``amended`` is not a status: an amendment is a new version."""

    DRAFT = "draft"
    NOTIFIED = "notified"
    ACTIVE = "active"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


#: Statuses whose activities other parties must keep clear of.
LIVE_STATUSES = frozenset({ActivityStatus.NOTIFIED, ActivityStatus.ACTIVE})

#: Status changes allowed: from -> to.
TRANSITIONS: dict[ActivityStatus, frozenset[ActivityStatus]] = {
    ActivityStatus.DRAFT: frozenset({ActivityStatus.NOTIFIED, ActivityStatus.CANCELLED}),
    ActivityStatus.NOTIFIED: frozenset({ActivityStatus.ACTIVE, ActivityStatus.CANCELLED}),
    ActivityStatus.ACTIVE: frozenset({ActivityStatus.COMPLETED, ActivityStatus.CANCELLED}),
    ActivityStatus.COMPLETED: frozenset(),
    ActivityStatus.CANCELLED: frozenset(),
}


@dataclass(frozen=True, slots=True)
class Circle:
    """A circle of ``radius_m`` metres around (``lat_deg``, ``lon_deg``)."""

    lat_deg: float
    lon_deg: float
    radius_m: float


@dataclass(frozen=True, slots=True)
class Volume:
    """One 4D volume: a polygon (lon/lat) or a circle, an altitude band, and ``[start_s, end_s)``."""

    area: Polygon | Circle
    altitude: AltitudeBand
    start_s: float
    end_s: float


@dataclass(frozen=True, slots=True)
class Waypoint:
    """A point of a route and the time the activity is planned to be there."""

    lat_deg: float
    lon_deg: float
    time_s: float


@dataclass(frozen=True, slots=True)
class Route:
    """A timed route: the activity is within ``half_width_m`` of the leg it is on, in ``altitude``."""

    waypoints: tuple[Waypoint, ...]
    half_width_m: float
    altitude: AltitudeBand


@dataclass(frozen=True, slots=True)
class Activity:
    """One version of a notified activity.

    ``addressees`` ``None`` means every other party. ``units`` are unit ids of the notifier's forces;
    addressees see them only when ``share_units`` is set.
    """

    id: str
    party_id: str
    kind: ActivityKind
    start_s: float
    end_s: float
    volumes: tuple[Volume, ...] = ()
    route: Route | None = None
    priority: Priority = Priority.ROUTINE
    addressees: frozenset[str] | None = None
    units: tuple[str, ...] = ()
    share_units: bool = False
    contact: str = ""
    text: str = ""
    version: int = 1
    status: ActivityStatus = ActivityStatus.DRAFT
    notified_s: float | None = field(default=None)


#: Longest free text accepted, in characters; the contact is one line of at most ``MAX_CONTACT_CHARS``.
MAX_TEXT_CHARS = 4000
MAX_CONTACT_CHARS = 400
#: Most volumes and waypoints accepted in one activity.
MAX_VOLUMES = 64
MAX_WAYPOINTS = 500
#: Most polygon positions in one activity, every volume's rings together (a circle counts none).
MAX_VERTICES = 20_000
#: Largest circle radius and route half-width, metres; the smallest half-width a corridor is drawn with.
MAX_RADIUS_M = 500_000.0
MIN_HALF_WIDTH_M = 1.0


def _finite(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values)


def _band_problems(band: AltitudeBand, where: str) -> list[str]:
    return altitude_band_problems(band.lower_ft, band.upper_ft, where)


def _point_problems(lat_deg: float, lon_deg: float, where: str) -> list[str]:
    if not _finite(lat_deg, lon_deg):
        return [f"{where}: coordinates must be finite numbers"]
    problems = []
    if not -90.0 <= lat_deg <= 90.0:
        problems.append(f"{where}: latitude {lat_deg!r} is outside [-90, 90]")
    if not -180.0 <= lon_deg <= 180.0:
        problems.append(f"{where}: longitude {lon_deg!r} is outside [-180, 180]")
    return problems


def _crosses_antimeridian_circle(circle: Circle) -> bool:
    """Whether the circle reaches past ±180° of longitude (a generous spherical estimate)."""
    cos_lat = math.cos(math.radians(circle.lat_deg))
    if cos_lat < 0.05:
        return True  # within ~300 km of a pole every longitude is near
    extent_deg = 1.05 * circle.radius_m / (111_320.0 * cos_lat)
    return circle.lon_deg - extent_deg < -180.0 or circle.lon_deg + extent_deg > 180.0


def _vertex_count(area: Polygon | Circle) -> int:
    """Positions of a volume's polygon, its holes' included (none for a circle)."""
    if isinstance(area, Circle):
        return 0
    return len(area.exterior.coords) + sum(len(ring.coords) for ring in area.interiors)


def _window_problems(start_s: float, end_s: float, where: str) -> list[str]:
    if not _finite(start_s, end_s):
        return [f"{where}: start and end must be finite times"]
    if end_s <= start_s:
        return [f"{where}: ends before it starts (end must be after start)"]
    return []


def _volume_problems(volume: Volume, activity: Activity, where: str) -> list[str]:
    problems: list[str] = []
    area = volume.area
    if isinstance(area, Circle):
        problems += _point_problems(area.lat_deg, area.lon_deg, f"{where}.circle")
        if not _finite(area.radius_m) or area.radius_m <= 0:
            problems.append(f"{where}.circle.radius_m: {area.radius_m!r} must be a finite number > 0")
        elif area.radius_m > MAX_RADIUS_M:
            problems.append(f"{where}.circle.radius_m: {area.radius_m:g} m is larger than {MAX_RADIUS_M / 1000:g} km")
        elif not problems and _crosses_antimeridian_circle(area):
            problems.append(f"{where}.circle: crosses the antimeridian (180°), which is not supported")
    elif area.is_empty:
        problems.append(f"{where}.geometry: empty polygon")
    elif not area.is_valid:
        problems.append(f"{where}.geometry: invalid polygon ({explain_validity(area)})")
    elif area.area == 0:
        problems.append(f"{where}.geometry: polygon has no area")
    elif area.bounds[2] - area.bounds[0] > 180.0:
        problems.append(f"{where}.geometry: spans more than 180° of longitude (the antimeridian is not supported)")
    problems += _band_problems(volume.altitude, f"{where}.altitude")
    window = _window_problems(volume.start_s, volume.end_s, f"{where} time window")
    problems += window
    if not window and (volume.start_s < activity.start_s or volume.end_s > activity.end_s):
        problems.append(f"{where} time window: lies outside the activity's time window")
    return problems


def _route_problems(route: Route, activity: Activity) -> list[str]:
    problems: list[str] = []
    if len(route.waypoints) < 2:
        problems.append(f"route.waypoints: needs at least 2 waypoints, has {len(route.waypoints)}")
    elif len(route.waypoints) > MAX_WAYPOINTS:
        problems.append(f"route.waypoints: at most {MAX_WAYPOINTS} waypoints, has {len(route.waypoints)}")
    for index, wp in enumerate(route.waypoints):
        where = f"route.waypoints[{index}]"
        problems += _point_problems(wp.lat_deg, wp.lon_deg, where)
        if not _finite(wp.time_s):
            problems.append(f"{where}.time: not a finite time")
            continue
        if index > 0 and _finite(route.waypoints[index - 1].time_s) and wp.time_s <= route.waypoints[index - 1].time_s:
            problems.append(f"{where}.time: must be later than the time of waypoint {index - 1} (times must increase)")
        if _finite(activity.start_s, activity.end_s) and not activity.start_s <= wp.time_s <= activity.end_s:
            problems.append(f"{where}.time: lies outside the activity's time window")
    longitudes = [wp.lon_deg for wp in route.waypoints if _finite(wp.lon_deg)]
    if longitudes and max(longitudes) - min(longitudes) > 180.0:
        problems.append("route.waypoints: span more than 180° of longitude (the antimeridian is not supported)")
    if not _finite(route.half_width_m) or not MIN_HALF_WIDTH_M <= route.half_width_m <= MAX_RADIUS_M:
        problems.append(
            f"route.half_width_m: {route.half_width_m!r} must be a finite number from {MIN_HALF_WIDTH_M:g} m"
            f" to {MAX_RADIUS_M:g} m"
        )
    else:
        # The corridor is drawn in one frame scaled at the route's middle latitude, never nearer a pole
        # than its farthest waypoint: a corridor reaching a pole would be drawn thousands of degrees wide
        # (seconds of work and gigabytes of index, the probe's tick late for everyone).
        for index, wp in enumerate(route.waypoints):
            corner = Circle(wp.lat_deg, wp.lon_deg, route.half_width_m)
            if not _point_problems(wp.lat_deg, wp.lon_deg, "") and _crosses_antimeridian_circle(corner):
                problems.append(
                    f"route.waypoints[{index}]: the corridor ({route.half_width_m:g} m wide each side) reaches"
                    " the antimeridian (180°) or comes within about 300 km of a pole, which is not supported"
                )
                break
    problems += _band_problems(route.altitude, "route.altitude")
    return problems


def new_id_problem(activity_id: str, party_id: str, parties: frozenset[str]) -> str | None:
    """Why ``party_id`` may not give a new activity the id ``activity_id``, or None.

    A party's activity ids begin with its own id and a hyphen (``coalition-strike-0412``; the ids
    keepclear makes up do too), and not with a longer party id that begins the same way: so a
    refusal for an id already taken only ever tells a party about its own activities, and naming
    another party's activity in a notification cannot probe for it (docs/need-to-know.md).

    >>> new_id_problem("a-strike-1", "a", frozenset({"a", "b"})) is None
    True
    >>> new_id_problem("strike-1", "a", frozenset({"a", "b"}))
    "id: 'strike-1' must begin with 'a-', the notifying party's id and a hyphen"
    >>> new_id_problem("a-b-1", "a", frozenset({"a", "a-b"}))
    "id: 'a-b-1' begins with 'a-b-', another party's id and a hyphen"
    """
    own = f"{party_id}-"
    if not activity_id.startswith(own):
        return f"id: {activity_id!r} must begin with {own!r}, the notifying party's id and a hyphen"
    for other in sorted(parties):
        if other != party_id and other.startswith(own) and activity_id.startswith(f"{other}-"):
            return f"id: {activity_id!r} begins with {other + '-'!r}, another party's id and a hyphen"
    return None


def batch_size_problem(count: int, most: int) -> str | None:
    """Why a batch of ``count`` activities cannot be taken when it may hold ``most``, or None."""
    if count < 1:
        return "activities: empty; a batch holds at least one activity"
    if count > most:
        return f"activities: {count} activities, at most {most} in one batch"
    return None


def in_batch(index: int, problem: str) -> str:
    """``problem`` of the ``index``-th activity of a batch, named from the batch: ``activities[i].<field>: …``.

    >>> in_batch(3, "volumes[0].circle.radius_m: must be a finite number > 0")
    'activities[3].volumes[0].circle.radius_m: must be a finite number > 0'
    >>> in_batch(0, "document: must be a mapping of fields")
    'activities[0]: must be a mapping of fields'
    """
    whole = "document:"
    if problem.startswith(whole):
        return f"activities[{index}]:{problem[len(whole) :]}"
    return f"activities[{index}].{problem}"


def activity_problems(
    activity: Activity, *, known_parties: frozenset[str], now_s: float, max_ahead_s: float
) -> list[str]:
    """List what is wrong with ``activity`` (empty when it may be stored), each naming its field.

    ``known_parties`` are the parties of the deployment (addressees must be among them);
    an activity may not start more than ``max_ahead_s`` after ``now_s``.
    """
    problems: list[str] = []
    for name, value in (("id", activity.id), ("party", activity.party_id)):
        if problem := id_problem(value, name):
            problems.append(problem)
    if activity.party_id not in known_parties:
        problems.append(f"party: {activity.party_id!r} is not a party of this deployment")
    problems += _window_problems(activity.start_s, activity.end_s, "time window")
    if _finite(activity.end_s) and activity.end_s <= now_s:
        problems.append("time window: has already ended; notify what is still to happen")
    if _finite(activity.start_s) and activity.start_s > now_s + max_ahead_s:
        problems.append(f"time window: starts more than {max_ahead_s / 86400:g} days ahead; check the year")
    if activity.route is None and not activity.volumes:
        problems.append("volumes: an activity needs volumes or a route (neither given)")
    if activity.route is not None and activity.volumes:
        problems.append("volumes: give volumes or a route, not both")
    if len(activity.volumes) > MAX_VOLUMES:
        problems.append(f"volumes: at most {MAX_VOLUMES} volumes, has {len(activity.volumes)}")
    vertices = sum(_vertex_count(volume.area) for volume in activity.volumes)
    if vertices > MAX_VERTICES:
        problems.append(f"volumes: {vertices} polygon positions in all, at most {MAX_VERTICES}")
    else:  # judging each polygon is the costly part: never for more than the bound
        for index, volume in enumerate(activity.volumes):
            problems += _volume_problems(volume, activity, f"volumes[{index}]")
    if activity.route is not None:
        problems += _route_problems(activity.route, activity)
    if activity.addressees is not None:
        if not activity.addressees:
            problems.append('addressees: empty; name parties or use "all"')
        for party in sorted(activity.addressees):
            if party == activity.party_id:
                problems.append(f"addressees: {party!r} is the notifying party itself")
            elif party not in known_parties:
                problems.append(f"addressees: {party!r} is not a party of this deployment")
    for index, unit in enumerate(activity.units):
        if problem := id_problem(unit, f"units[{index}]"):
            problems.append(problem)
    if len(set(activity.units)) != len(activity.units):
        problems.append("units: a unit is listed twice")
    if not activity.contact.strip():
        problems.append("contact: must not be empty (who answers for this activity)")
    elif len(activity.contact) > MAX_CONTACT_CHARS:
        problems.append(f"contact: {len(activity.contact)} characters, at most {MAX_CONTACT_CHARS}")
    if len(activity.text) > MAX_TEXT_CHARS:
        problems.append(f"text: {len(activity.text)} characters, at most {MAX_TEXT_CHARS}")
    if not isinstance(activity.version, int) or activity.version < 1:
        problems.append(f"version: {activity.version!r} must be an integer >= 1")
    return problems
