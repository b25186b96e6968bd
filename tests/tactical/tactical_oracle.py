"""A brute-force conflict oracle for the tests: every pair, explicit east/north basis, no culling.

Written apart from ``keepclear.detect`` on purpose: positions come from ``geo.ecef_from_geodetic``,
the horizontal plane is an explicit orthonormal basis at the pair's midpoint, and the roots come
from the textbook quadratic formula. ``sample_inside`` checks a time by direct evaluation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from keepclear.detect.minima import ProbeSettings
from keepclear.detect.states import TrackStates
from keepclear.domain import Domain
from keepclear.geo import ecef_from_geodetic

DOMAINS = [Domain.AIR, Domain.LAND, Domain.SEA]


@dataclass
class PairMotion:
    d0: np.ndarray  # 2D relative position (m)
    w: np.ndarray  # 2D relative velocity (m/s)
    dz: float
    dvz: float
    horizontal_m: float
    vertical_m: float
    lookahead_s: float

    def inside(self, t: float) -> tuple[float, float]:
        """(horizontal distance, vertical distance) at ``t``."""
        h = float(np.hypot(*(self.d0 + self.w * t)))
        return h, abs(self.dz + self.dvz * t)


def _basis(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    z = np.array([0.0, 0.0, 1.0])
    e = np.cross(z, m)
    if np.linalg.norm(e) < 1e-9:
        e = np.array([0.0, 1.0, 0.0])
    e = e / np.linalg.norm(e)
    n = np.cross(m, e)
    return e, n


def pair_motion(states: TrackStates, time_s: float, i: int, j: int, settings: ProbeSettings) -> PairMotion:
    minima = settings.minima_for(DOMAINS[int(states.domain[i])], DOMAINS[int(states.domain[j])])
    pts = []
    for k in (i, j):
        lat, lon = math.radians(float(states.lat_deg[k])), math.radians(float(states.lon_deg[k]))
        up = np.array([math.cos(lat) * math.cos(lon), math.cos(lat) * math.sin(lon), math.sin(lat)])
        east = np.array([-math.sin(lon), math.cos(lon), 0.0])
        north = np.cross(up, east)
        p = np.array([float(c) for c in ecef_from_geodetic(states.lat_deg[k], states.lon_deg[k], 0.0)])
        v = east * float(states.vel_east_mps[k]) + north * float(states.vel_north_mps[k])
        dt = time_s - float(states.time_s[k])
        pts.append((p + v * dt, v, up, float(states.alt_m[k]) + float(states.vel_up_mps[k]) * dt))
    (pi, vi, ui, ai), (pj, vj, uj, aj) = pts
    m = (ui + uj) / np.linalg.norm(ui + uj)
    e, n = _basis(m)
    d = pj - pi
    w = vj - vi
    return PairMotion(
        np.array([d @ e, d @ n]),
        np.array([w @ e, w @ n]),
        aj - ai,
        float(states.vel_up_mps[j] - states.vel_up_mps[i]),
        minima.horizontal_m,
        minima.vertical_m,
        minima.lookahead_s,
    )


def interval(pm: PairMotion) -> tuple[float, float] | None:
    """The open interval of lost separation intersected with [0, lookahead], or None."""
    a = float(pm.w @ pm.w)
    b = float(pm.d0 @ pm.w)
    c = float(pm.d0 @ pm.d0) - pm.horizontal_m**2
    if a == 0.0 or a < 1e-12:
        if c >= 0:
            return None
        h = (-math.inf, math.inf)
    else:
        disc = b * b - a * c
        if disc <= 0:
            return None
        h = ((-b - math.sqrt(disc)) / a, (-b + math.sqrt(disc)) / a)
    if math.isinf(pm.vertical_m):
        v = (-math.inf, math.inf)
    elif abs(pm.dvz) < 1e-9:
        if abs(pm.dz) >= pm.vertical_m:
            return None
        v = (-math.inf, math.inf)
    else:
        s1, s2 = (-pm.vertical_m - pm.dz) / pm.dvz, (pm.vertical_m - pm.dz) / pm.dvz
        v = (min(s1, s2), max(s1, s2))
    lo, hi = max(h[0], v[0]), min(h[1], v[1])
    if not (lo < hi and hi > 0 and lo < pm.lookahead_s):
        return None
    return max(lo, 0.0), min(hi, pm.lookahead_s)


def oracle(states: TrackStates, time_s: float, settings: ProbeSettings) -> dict[tuple[int, int], tuple[float, float]]:
    """Every conflict by brute force: {(i, j): (t_in_s, t_out_s)} with i < j."""
    out: dict[tuple[int, int], tuple[float, float]] = {}
    n = len(states)
    for i in range(n):
        for j in range(i + 1, n):
            if states.party[i] == states.party[j]:
                continue
            iv = interval(pair_motion(states, time_s, i, j, settings))
            if iv is not None:
                out[(i, j)] = iv
    return out


def min_margin(pm: PairMotion, samples: int = 4001) -> float:
    """Smallest relative margin max(h/H, v/V) - 1 over sampled times in [0, lookahead] (< 0: conflict)."""
    t = np.linspace(0.0, pm.lookahead_s, samples)
    h = np.hypot(pm.d0[0] + pm.w[0] * t, pm.d0[1] + pm.w[1] * t) / pm.horizontal_m
    v = np.abs(pm.dz + pm.dvz * t) / pm.vertical_m
    return float(np.min(np.maximum(h, v)) - 1.0)
