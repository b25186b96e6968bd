"""Agreed zones: areas, lines and sites with an altitude band, a validity window and rules."""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from keepclear.domain.limits import text_problem


class ZoneKind(enum.StrEnum):
    """The kinds of agreed geography."""

    DE_ESCALATION_ZONE = "de-escalation-zone"
    DECONFLICTION_LINE = "deconfliction-line"
    SPECIAL_CAUTION_AREA = "special-caution-area"
    RESTRICTED_OPERATING_ZONE = "restricted-operating-zone"
    PROTECTED_SITE = "protected-site"


_AREA = frozenset({"Polygon", "MultiPolygon", "Point"})

#: Geometry types each kind accepts (GeoJSON names); an area given as a Point is a circle of ``buffer_m``.
GEOMETRY_TYPES_BY_KIND: dict[ZoneKind, frozenset[str]] = {
    ZoneKind.DE_ESCALATION_ZONE: _AREA,
    ZoneKind.DECONFLICTION_LINE: frozenset({"LineString", "MultiLineString"}),
    ZoneKind.SPECIAL_CAUTION_AREA: _AREA,
    ZoneKind.RESTRICTED_OPERATING_ZONE: _AREA,
    ZoneKind.PROTECTED_SITE: _AREA,
}


class Access(enum.StrEnum):
    """What a zone's rules allow one party."""

    PERMITTED = "permitted"
    WITH_NOTICE = "with-notice"
    FORBIDDEN = "forbidden"


#: Every altitude band (a zone's, an activity volume's or route's) lies within these feet above mean
#: sea level: below the lowest ground (the Dead Sea shore, about -1,410 ft) to far above anything that
#: flies in these theatres. A zone's default band is all of it; a band past it is an error, not a zone.
MIN_ALTITUDE_FT = -1500.0
MAX_ALTITUDE_FT = 99999.0

#: A zone's buffer (a line's each side, a circle's radius), metres, when it has one: at least a metre
#: and at most 1,000 km (a proposed circle's bound). Past them the drawn area is no number: a buffer of
#: 1e300 m overflows, one of 1e-300 m has NaN bounds, and either failed every later notification's check.
MIN_ZONE_BUFFER_M = 1.0
MAX_ZONE_BUFFER_M = 1_000_000.0

#: A stored zone is drawn (as an area, by every reader that draws zones) only with a buffer within
#: these metres when it has one: zones stored before ``MIN_ZONE_BUFFER_M``/``MAX_ZONE_BUFFER_M`` may
#: hold any number, and one past these draws as no area (1e-300 m: NaN bounds; 1e300 m: an area of
#: 1e295 degrees). Wider than the import's bounds, so that no zone an older rule let in and that
#: can be drawn is left out (``zone_drawing_problem``).
MIN_DRAWN_BUFFER_M = 1e-3
MAX_DRAWN_BUFFER_M = 10_000_000.0


class UndrawableZoneError(ValueError):
    """A stored zone cannot be drawn as an area (``problem`` says why): its readers leave it out."""

    def __init__(self, zone_id: str, problem: str) -> None:
        super().__init__(f"zone {zone_id}: {problem}")
        self.zone_id = zone_id
        self.problem = problem


@dataclass(frozen=True, slots=True)
class AltitudeBand:
    """Vertical extent in feet above mean sea level, ``lower_ft`` <= ``upper_ft``."""

    lower_ft: float = MIN_ALTITUDE_FT
    upper_ft: float = MAX_ALTITUDE_FT

    def overlaps(self, other: AltitudeBand) -> bool:
        """True when the two bands share at least one altitude (touching counts)."""
        return self.lower_ft <= other.upper_ft and other.lower_ft <= self.upper_ft

    def contains_ft(self, alt_ft: float) -> bool:
        """True when ``alt_ft`` lies inside the band (bounds included)."""
        return self.lower_ft <= alt_ft <= self.upper_ft


@dataclass(frozen=True, slots=True)
class Validity:
    """When a zone applies: seconds since the Unix epoch; ``None`` leaves that end open."""

    valid_from_s: float | None = None
    valid_until_s: float | None = None

    def contains(self, time_s: float) -> bool:
        """True when ``time_s`` lies within the window (start included, end excluded)."""
        if self.valid_from_s is not None and time_s < self.valid_from_s:
            return False
        return self.valid_until_s is None or time_s < self.valid_until_s

    def overlaps(self, start_s: float, end_s: float) -> bool:
        """True when the window shares time with ``[start_s, end_s)``."""
        lo = -math.inf if self.valid_from_s is None else self.valid_from_s
        hi = math.inf if self.valid_until_s is None else self.valid_until_s
        return lo < end_s and start_s < hi


@dataclass(frozen=True, slots=True)
class ZoneRules:
    """Who may operate inside a zone, and with how much notice.

    ``permitted_parties`` lists the parties that may operate inside; ``None`` means every party.
    A permitted party must still notify an activity inside at least ``min_notice_h`` hours ahead.
    """

    permitted_parties: frozenset[str] | None = field(default_factory=frozenset)
    min_notice_h: float = 0.0

    def access_for(self, party_id: str) -> Access:
        """What these rules allow ``party_id``."""
        if self.permitted_parties is not None and party_id not in self.permitted_parties:
            return Access.FORBIDDEN
        return Access.WITH_NOTICE if self.min_notice_h > 0 else Access.PERMITTED

    def witnesses(self, party_id: str) -> frozenset[str]:
        """The parties who see a unit of ``party_id`` inside the zone (need to know, docs/need-to-know.md).

        Its own party always; the zone's permitted parties too when ``party_id`` may not enter (an
        intruder is shown to them from entry until it leaves, as inside an alert); nobody else.
        """
        if self.access_for(party_id) is Access.FORBIDDEN and self.permitted_parties:
            return frozenset({party_id, *self.permitted_parties})
        return frozenset({party_id})


@dataclass(frozen=True, slots=True)
class Zone:
    """One piece of agreed geography.

    ``geometry`` is in WGS-84 longitude/latitude degrees. ``buffer_m`` is the half-width each side
    of a deconfliction line, or the radius of an area given as a point (a circle); 0 otherwise.
    """

    id: str
    name: str
    kind: ZoneKind
    geometry: BaseGeometry
    altitude: AltitudeBand = field(default_factory=AltitudeBand)
    validity: Validity = field(default_factory=Validity)
    rules: ZoneRules = field(default_factory=ZoneRules)
    buffer_m: float = 0.0
    description: str = ""
    #: The name in other languages: (language tag, name) pairs sorted by tag; ``name`` is the fallback.
    names: tuple[tuple[str, str], ...] = ()

    def name_in(self, language: str) -> str:
        """The zone's name for a reader of ``language`` (``ru``, ``en``), else ``name``.

        >>> from shapely.geometry import Point
        >>> Zone("z", "Tanf", ZoneKind.PROTECTED_SITE, Point(0, 0), names=(("ru", "Танф"),)).name_in("ru")
        'Танф'
        """
        return dict(self.names).get(language, self.name)


#: A language tag (BCP 47, the common shapes: ``ru``, ``en``, ``ar``, ``pt-BR``, ``sr-Latn``).
LANGUAGE_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}")
#: At most this many characters in a zone's name, in any language (the stored column's width).
MAX_ZONE_NAME_CHARS = 200
#: At most this many characters in a zone's ``description`` (free text, sent with the zone to every
#: reader: as an activity's text, ``activities.MAX_TEXT_CHARS``).
MAX_ZONE_DESCRIPTION_CHARS = 4000
#: At most this many languages in a zone's ``names``.
MAX_ZONE_NAMES = 32


def altitude_band_problems(lower_ft: object, upper_ft: object, where: str) -> list[str]:
    """What is wrong with an altitude band (feet), each problem naming ``where.lower_ft`` or
    ``where.upper_ft``: not a finite number, outside [``MIN_ALTITUDE_FT``, ``MAX_ALTITUDE_FT``], or
    upside down; empty when sound. The one check of every band: zones, activity volumes and routes.

    >>> altitude_band_problems(1e300, -2000, "volumes[0].altitude")  # doctest: +NORMALIZE_WHITESPACE
    ['volumes[0].altitude.lower_ft: 1e+300 is outside [-1500, 99999] ft',
     'volumes[0].altitude.upper_ft: -2000 is outside [-1500, 99999] ft']
    """
    problems: list[str] = []
    for name, value in (("lower_ft", lower_ft), ("upper_ft", upper_ft)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
            problems.append(f"{where}.{name}: {value!r} is not a finite number")
        elif not MIN_ALTITUDE_FT <= value <= MAX_ALTITUDE_FT:
            problems.append(f"{where}.{name}: {value:g} is outside [{MIN_ALTITUDE_FT:g}, {MAX_ALTITUDE_FT:g}] ft")
    if not problems:
        assert isinstance(lower_ft, (int, float)) and isinstance(upper_ft, (int, float))
        if lower_ft > upper_ft:
            problems.append(f"{where}: band is upside down (lower_ft {lower_ft:g} > upper_ft {upper_ft:g})")
    return problems


def names_problems(names: object, where: str) -> list[str]:
    """What is wrong with a zone's ``names`` (an object of language tag -> name), each problem naming
    ``where`` and the language; empty when sound.

    >>> names_problems({"ru": "Танф", "EN!": ""}, "names")
    ["names: 'EN!' is not a language tag (like ru, en or pt-BR)", 'names.EN!: must be a non-empty string']
    """
    if not isinstance(names, dict):
        return [f"{where}: must be an object of language tag -> name"]
    problems: list[str] = []
    if len(names) > MAX_ZONE_NAMES:
        problems.append(f"{where}: {len(names)} languages, at most {MAX_ZONE_NAMES}")
    for tag, name in names.items():
        if not isinstance(tag, str) or not LANGUAGE_TAG.fullmatch(tag):
            problems.append(f"{where}: {tag!r} is not a language tag (like ru, en or pt-BR)")
        if not isinstance(name, str) or not name.strip():
            problems.append(f"{where}.{tag}: must be a non-empty string")
        elif len(name) > MAX_ZONE_NAME_CHARS:
            problems.append(f"{where}.{tag}: {len(name)} characters, at most {MAX_ZONE_NAME_CHARS}")
        elif problem := text_problem(name, f"{where}.{tag}"):
            problems.append(problem)
    return problems


def zone_problems(zone: Zone) -> list[str]:
    """List what is inconsistent in ``zone`` beyond its coordinates (empty when sound)."""
    problems: list[str] = []
    allowed = GEOMETRY_TYPES_BY_KIND[zone.kind]
    if zone.geometry.geom_type not in allowed:
        problems.append(
            f"geometry: a {zone.kind.value} must be {' or '.join(sorted(allowed))}, not {zone.geometry.geom_type}"
        )
    if not math.isfinite(zone.buffer_m) or zone.buffer_m < 0:
        problems.append(f"buffer_m: {zone.buffer_m!r} must be a finite number >= 0")
    elif zone.kind is ZoneKind.DECONFLICTION_LINE and zone.buffer_m <= 0:
        problems.append("buffer_m: a deconfliction-line needs a buffer each side > 0 m")
    elif zone.geometry.geom_type == "Point" and zone.buffer_m <= 0:
        problems.append(f"radius_m: a {zone.kind.value} given as a point needs a radius > 0 m")
    elif zone.buffer_m > 0 and not MIN_ZONE_BUFFER_M <= zone.buffer_m <= MAX_ZONE_BUFFER_M:
        name = "radius_m" if zone.geometry.geom_type == "Point" else "buffer_m"
        problems.append(f"{name}: {zone.buffer_m:g} m is outside [{MIN_ZONE_BUFFER_M:g}, {MAX_ZONE_BUFFER_M:g}] m")
    problems += altitude_band_problems(zone.altitude.lower_ft, zone.altitude.upper_ft, "altitude")
    v = zone.validity
    for name, value in (("valid_from", v.valid_from_s), ("valid_until", v.valid_until_s)):
        if value is not None and not math.isfinite(value):
            problems.append(f"{name}: {value!r} is not a finite time")
    if v.valid_from_s is not None and v.valid_until_s is not None and v.valid_until_s <= v.valid_from_s:
        problems.append("validity: valid_until must be after valid_from")
    if not math.isfinite(zone.rules.min_notice_h) or zone.rules.min_notice_h < 0:
        problems.append(f"rules.min_notice_h: {zone.rules.min_notice_h!r} must be a finite number >= 0")
    if not zone.name.strip():
        problems.append("name: must not be empty")
    elif len(zone.name) > MAX_ZONE_NAME_CHARS:
        problems.append(f"name: {len(zone.name)} characters, at most {MAX_ZONE_NAME_CHARS}")
    if len(zone.description) > MAX_ZONE_DESCRIPTION_CHARS:
        problems.append(f"description: {len(zone.description)} characters, at most {MAX_ZONE_DESCRIPTION_CHARS}")
    problems += names_problems(dict(zone.names), "names")
    if [tag for tag, _ in zone.names] != sorted({tag for tag, _ in zone.names}):
        problems.append("names: must be sorted by language tag, each tag once")
    return problems


def zone_drawing_problem(zone: Zone) -> str | None:
    """Why ``zone`` cannot be drawn as an area on the Earth (None: it can). Cheap: no drawing.

    Stored zones are read as stored (``keepclear zones check`` lists those an import would refuse
    today); every reader that draws them (the strategic check, the zone watch, the listings the
    console and TAK draw from) leaves out one this names, so that one stored zone never fails the
    reads of every other zone.

    >>> from shapely.geometry import Point
    >>> zone_drawing_problem(Zone("z", "far", ZoneKind.PROTECTED_SITE, Point(40, 35), buffer_m=1e300))
    'radius_m: 1e+300 m cannot be drawn (outside [0.001, 1e+07] m)'
    """
    geometry = zone.geometry
    if geometry.is_empty:
        return "geometry: empty"
    coords = shapely.get_coordinates(geometry)
    if not bool(np.isfinite(coords).all()):
        return "geometry: a coordinate is not a finite number"
    if not (bool((np.abs(coords[:, 0]) <= 180.0).all()) and bool((np.abs(coords[:, 1]) <= 90.0).all())):
        return "geometry: a coordinate is outside longitude [-180, 180] or latitude [-90, 90]"
    name = "radius_m" if geometry.geom_type == "Point" else "buffer_m"
    buffer = zone.buffer_m
    if isinstance(buffer, bool) or not isinstance(buffer, (int, float)) or not math.isfinite(buffer) or buffer < 0:
        return f"{name}: {buffer!r} is not a finite number >= 0"
    if buffer > 0 and not MIN_DRAWN_BUFFER_M <= buffer <= MAX_DRAWN_BUFFER_M:
        return f"{name}: {buffer:g} m cannot be drawn (outside [{MIN_DRAWN_BUFFER_M:g}, {MAX_DRAWN_BUFFER_M:g}] m)"
    return None


def drawn_area_problem(bounds: tuple[float, float, float, float] | list[float], empty: bool) -> str | None:
    """Why an area drawn of a zone is no area (None: it is one): empty, or its bounds not finite."""
    if not all(math.isfinite(value) for value in bounds):
        return "its drawn area has no finite bounds"
    if empty:
        return "its drawn area is empty"
    return None
