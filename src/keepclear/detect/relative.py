"""Relative horizontal and vertical motion of pairs of rows, in the tangent plane at each pair's midpoint.

The same projection as ``pairsolve.solve_pair``, vectorised over pairs, for code that needs the
raw geometry (alert volumes, CPA points) rather than one conflict interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.detect.states import Kinematics

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class RelativeMotion:
    """Per pair: squared distance, s·v and squared speed (horizontal), and vertical offset and rate.

    ``s`` is the position of ``b`` relative to ``a`` and ``v`` its relative velocity.
    """

    ss: FloatArray
    sv: FloatArray
    vv: FloatArray
    dz_m: FloatArray
    dvz_mps: FloatArray


def relative_motion(kin: Kinematics, rows_a: IntArray, rows_b: IntArray) -> RelativeMotion:
    """The relative motion of ``rows_b`` seen from ``rows_a`` (arrays of equal length)."""
    m = kin.up[rows_a] + kin.up[rows_b]
    norm = np.linalg.norm(m, axis=1)
    m = m / np.where(norm > 1e-9, norm, 1.0)[:, None]
    s = kin.pos[rows_b] - kin.pos[rows_a]
    v = kin.vel[rows_b] - kin.vel[rows_a]
    s = s - np.sum(s * m, axis=1)[:, None] * m
    v = v - np.sum(v * m, axis=1)[:, None] * m
    return RelativeMotion(
        np.sum(s * s, axis=1),
        np.sum(s * v, axis=1),
        np.sum(v * v, axis=1),
        kin.alt_m[rows_b] - kin.alt_m[rows_a],
        kin.vel_up_mps[rows_b] - kin.vel_up_mps[rows_a],
    )
