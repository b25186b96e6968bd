"""How far apart two units that can conflict may be reported: the halo of the detector workers' cells.

**The halo.** A pair can only conflict if its two units come within the horizontal minimum within
the lookahead. Each domain has a speed cap and an age cap; a unit under its speed cap and reported
no further from the probe time than its age cap is *narrow*. Two narrow units that conflict were,
at their report positions, within ``h + v_a (lookahead + age_a) + v_b (lookahead + age_b)`` of each
other, over every pair of domains the largest, grown for the probe's tangent-plane geometry
(``halo_angle_rad``). With the defaults (jets at 700 m/s, air reports up to 60 s old, 5 NM and
300 s) the halo is ~550 km. Every other unit is *wide*: it gets a halo of its own, from its own
speed and age and its partners' caps (or the fastest wide partner), so a worker sees it only near
its cells; a unit of an unknown domain is seen everywhere.

Pure: settings and caps come in, distances and angles go out (the cells that use them: ``detect.cells``).

The distance with the defaults, in km, before the growth for the probe's geometry:

>>> round(halo_m(ProbeSettings(), SpeedCaps(), AgeCaps()) / 1000)
513
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.detect.minima import DOMAIN_CODES, ProbeSettings
from keepclear.domain import Domain

FloatArray = npt.NDArray[np.float64]

#: Below WGS84's smallest radius of curvature (6,335,439 m): angles from distances are overestimated.
_MIN_RADIUS_M = 6.3e6
#: Relative and absolute slack on the halo (rounding, the ellipsoid's off-plane offsets).
_HALO_SLACK = 1.01
_HALO_SLACK_M = 1_000.0


@dataclass(frozen=True, slots=True)
class SpeedCaps:
    """Fastest horizontal speed (m/s) a unit of each domain may have and still be partitioned; a
    faster one is seen by every worker (so the caps cost work, never correctness)."""

    air_mps: float = 700.0  # Mach 2 at altitude
    land_mps: float = 50.0  # 180 km/h
    sea_mps: float = 30.0  # 58 kn

    def by_code(self) -> FloatArray:
        """The caps indexed by domain code."""
        caps = np.empty(len(DOMAIN_CODES))
        for domain, code in DOMAIN_CODES.items():
            caps[code] = {Domain.AIR: self.air_mps, Domain.LAND: self.land_mps, Domain.SEA: self.sea_mps}[domain]
        return caps


@dataclass(frozen=True, slots=True)
class AgeCaps:
    """Oldest report (seconds from the probe time, either way) of each domain that is still
    partitioned; an older one is seen by every worker. The defaults are the track table's stale
    ages (``stale_air_s``, ``stale_land_s``, ``stale_sea_s``), so no live unit is wide for its age."""

    air_s: float = 60.0
    land_s: float = 600.0
    sea_s: float = 600.0

    @classmethod
    def uniform(cls, age_s: float) -> AgeCaps:
        """The same bound for every domain."""
        return cls(age_s, age_s, age_s)

    def by_code(self) -> FloatArray:
        """The bounds indexed by domain code."""
        ages = np.empty(len(DOMAIN_CODES))
        for domain, code in DOMAIN_CODES.items():
            ages[code] = {Domain.AIR: self.air_s, Domain.LAND: self.land_s, Domain.SEA: self.sea_s}[domain]
        return ages


def _reaches_m(settings: ProbeSettings, caps: SpeedCaps, ages: AgeCaps) -> list[tuple[float, float]]:
    """For every pair of domains: its horizontal minimum, and how far its two units can close from
    their report positions by the end of the lookahead (each at its cap, over lookahead + its age)."""
    speed, age = caps.by_code(), ages.by_code()
    out = []
    for dom_a, dom_b, minima in settings.domain_pairs():
        a, b = DOMAIN_CODES[dom_a], DOMAIN_CODES[dom_b]
        reach_m = speed[a] * (minima.lookahead_s + age[a]) + speed[b] * (minima.lookahead_s + age[b])
        out.append((minima.horizontal_m, float(reach_m)))
    return out


def halo_m(settings: ProbeSettings, caps: SpeedCaps, ages: AgeCaps) -> float:
    """The largest distance, over every pair of domains, between the report positions of two narrow
    units that can conflict: the horizontal minimum plus what both close at their caps within the
    lookahead and their report ages."""
    return max(h + reach for h, reach in _reaches_m(settings, caps, ages))


def halo_angle_rad(settings: ProbeSettings, caps: SpeedCaps, ages: AgeCaps) -> float:
    """``halo_m`` as an angle between the geodetic normals of the two report positions.

    The probe measures horizontal distance in the plane normal to the pair's mean normal; tangent
    paths leave that plane by at most ``closing · t · sin(θ/2)`` for normals ``θ`` apart, so the
    chord at the reports is at most ``(h + closing · t) / (1 - closing · t / 2R)``; a chord ``c``
    turns the normal by at most ``2 asin(c / 2R)`` with ``R`` below the smallest radius of curvature.
    Returns ``π`` (the whole globe) where the motion reaches a third of the earth's radius.
    """
    reaches = _reaches_m(settings, caps, ages)
    horizontal_m = np.array([h for h, _ in reaches])
    reach_m = np.array([r for _, r in reaches])
    return float(np.max(angles_rad(horizontal_m, reach_m)))


def angles_rad(horizontal_m: FloatArray, reach_m: FloatArray) -> FloatArray:
    """``halo_angle_rad``'s bound for each (minimum, reach), ``π`` beyond a third of the radius (per
    pair of domains, or per wide unit: ``cells.wide_halos_rad``)."""
    shrink = 1.0 - reach_m / (2.0 * _MIN_RADIUS_M)
    chord_m = (horizontal_m + reach_m) / np.maximum(shrink, 5.0 / 6.0) * _HALO_SLACK + _HALO_SLACK_M
    angle = 2.0 * np.arcsin(np.minimum(chord_m / (2.0 * _MIN_RADIUS_M), 1.0))
    return np.asarray(np.where((shrink < 5.0 / 6.0) | (chord_m >= 2.0 * _MIN_RADIUS_M), math.pi, angle))
