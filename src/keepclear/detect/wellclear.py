"""Alert volumes in the manner of DO-365 (detect and avoid): levels, each a volume and an alerting time.

A volume is the DO-365 well-clear volume ``WCV_TAUMOD``: horizontally within ``dthr_m``, or
closing with a horizontal miss distance within ``dthr_m`` and a modified tau within ``tthr_s``;
vertically within ``zthr_m`` (or, with ``tcoa_s`` > 0, that close in time to co-altitude). With
``tthr_s`` = ``tcoa_s`` = 0 it is a plain cylinder. A level is predicted when its volume is
violated at some time in ``[0, alerting_time_s]``; the level of a pair is the highest predicted.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from keepclear.detect.minima import FT_M, NM_M, DomainPair, ProbeSettings, SeparationMinima
from keepclear.detect.relative import RelativeMotion

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class AlertLevel(enum.IntEnum):
    """Alert levels, in increasing severity."""

    NONE = 0
    ADVISORY = 1
    CAUTION = 2
    WARNING = 3


@dataclass(frozen=True, slots=True)
class WellClearVolume:
    """DO-365 ``WCV_TAUMOD`` thresholds in SI units."""

    dthr_m: float
    zthr_m: float
    tthr_s: float = 0.0
    tcoa_s: float = 0.0


@dataclass(frozen=True, slots=True)
class LevelSpec:
    """One alert level: violating ``volume`` within ``alerting_time_s``."""

    level: AlertLevel
    volume: WellClearVolume
    alerting_time_s: float


@dataclass(frozen=True, slots=True)
class Hysteresis:
    """Raise a level when ``m`` of the last ``n`` probes reach it; keep an alert at least
    ``persistence_s``; forget the past after ``reset_gap_s`` without a probe."""

    m: int = 2
    n: int = 4
    persistence_s: float = 4.0
    reset_gap_s: float = 5.0


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """The levels (any order) and the hysteresis of one pair of domains."""

    levels: tuple[LevelSpec, ...]
    hysteresis: Hysteresis = field(default_factory=Hysteresis)


def do_365b_phase_i() -> AlertPolicy:
    """DO-365B Phase I (``DO_365B_no_SUM``): preventive, corrective and warning alerts."""
    nm066 = 0.66 * NM_M
    return AlertPolicy(
        (
            LevelSpec(AlertLevel.ADVISORY, WellClearVolume(nm066, 700 * FT_M, 35.0), 55.0),
            LevelSpec(AlertLevel.CAUTION, WellClearVolume(nm066, 450 * FT_M, 35.0), 55.0),
            LevelSpec(AlertLevel.WARNING, WellClearVolume(nm066, 450 * FT_M, 35.0), 25.0),
        ),
        Hysteresis(m=2, n=4, persistence_s=4.0, reset_gap_s=5.0),
    )


def minima_policy(minima: SeparationMinima, enlarge: float = 1.5, warning_fraction: float = 0.25) -> AlertPolicy:
    """Levels from separation minima (docs/architecture.md): advisory, the volume enlarged by ``enlarge``
    within the lookahead; caution, the minima within the lookahead; warning, the minima within
    ``warning_fraction`` of the lookahead (which includes separation already lost)."""
    z = minima.vertical_m
    return AlertPolicy(
        (
            LevelSpec(
                AlertLevel.ADVISORY, WellClearVolume(minima.horizontal_m * enlarge, z * enlarge), minima.lookahead_s
            ),
            LevelSpec(AlertLevel.CAUTION, WellClearVolume(minima.horizontal_m, z), minima.lookahead_s),
            LevelSpec(
                AlertLevel.WARNING, WellClearVolume(minima.horizontal_m, z), minima.lookahead_s * warning_fraction
            ),
        )
    )


@dataclass(frozen=True, slots=True)
class AlertingSettings:
    """An alert policy per pair of domains; air–air follows DO-365B Phase I by default."""

    air_air: AlertPolicy = field(default_factory=do_365b_phase_i)
    surface: ProbeSettings = field(default_factory=ProbeSettings)

    def policy(self, pair: DomainPair) -> AlertPolicy:
        """The policy of a pair of domains: ``air_air``'s, or the minima policy of the pair's row."""
        if pair is DomainPair.AIR_AIR:
            return self.air_air
        return minima_policy(self.surface.row(pair))


def violation_interval(rel: RelativeMotion, volume: WellClearVolume, horizon_s: float) -> tuple[FloatArray, FloatArray]:
    """``(t_in, t_out)`` of the volume's violation within ``[0, horizon_s]``; ``t_in > t_out`` when none.

    Closed bounds, as DAIDALUS. Vectorised over pairs; never NaN.
    """
    d2 = volume.dthr_m**2
    vv = rel.vv
    moving = vv > 1e-12
    safe_vv = np.where(moving, vv, 1.0)
    tcpa = np.where(moving, -rel.sv / safe_vv, 0.0)
    hmd2 = np.maximum(rel.ss + 2 * rel.sv * tcpa + vv * tcpa * tcpa, 0.0)
    half = np.sqrt(np.maximum(d2 - hmd2, 0.0) / safe_vv)
    # Entry: the smaller root of |s(t)|² + T·s(t)·v − D² = 0 (the tau-mod boundary), or of the disk.
    b = 2 * rel.sv + volume.tthr_s * vv
    c = rel.ss + volume.tthr_s * rel.sv - d2
    disc = np.maximum(b * b - 4 * vv * c, 0.0)
    r1 = np.where(moving, (-b - np.sqrt(disc)) / (2 * safe_vv), 0.0)
    h_in = np.where(moving, np.minimum(r1, tcpa - half), -math.inf)
    h_out = np.where(moving, tcpa + half, math.inf)
    h_none = hmd2 > d2
    h_none |= ~moving & (rel.ss > d2)
    # Vertical: |dz(t)| <= zthr, widened towards co-altitude by tcoa when converging.
    z = volume.zthr_m
    dvz = rel.dvz_mps
    lo = np.where(dvz > 0, -np.maximum(z, volume.tcoa_s * dvz), -z)
    hi = np.where(dvz < 0, np.maximum(z, -volume.tcoa_s * dvz), z)
    still = np.abs(dvz) < 1e-9
    safe_dvz = np.where(still, 1.0, dvz)
    ta = (lo - rel.dz_m) / safe_dvz
    tb = (hi - rel.dz_m) / safe_dvz
    v_in = np.where(still, -math.inf, np.minimum(ta, tb))
    v_out = np.where(still, math.inf, np.maximum(ta, tb))
    v_none = still & ((rel.dz_m < lo) | (rel.dz_m > hi))
    t_in = np.maximum(np.maximum(h_in, v_in), 0.0)
    t_out = np.minimum(np.minimum(h_out, v_out), horizon_s)
    none = h_none | v_none
    return np.where(none, math.inf, t_in), np.where(none, -math.inf, t_out)


def raw_levels(rel: RelativeMotion, policy: AlertPolicy) -> IntArray:
    """The highest level whose volume is violated within its alerting time, per pair (0: none)."""
    level = np.zeros(rel.ss.shape[0], dtype=np.int64)
    for spec in policy.levels:
        t_in, t_out = violation_interval(rel, spec.volume, spec.alerting_time_s)
        hit = t_in <= t_out
        level = np.where(hit, np.maximum(level, int(spec.level)), level)
    return level
