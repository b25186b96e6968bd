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
    """The relative motion of ``rows_b`` seen from ``rows_a`` (arrays of equal length).

    Column by column (one-dimensional gathers and products), in the order of ``solve_pair``'s sums.
    """
    up, pos, vel = kin.up.T, kin.pos.T, kin.vel.T  # columns: one-dimensional gathers
    mx = up[0][rows_a] + up[0][rows_b]
    my = up[1][rows_a] + up[1][rows_b]
    mz = up[2][rows_a] + up[2][rows_b]
    norm = np.sqrt(mx * mx + my * my + mz * mz)
    norm = np.where(norm > 1e-9, norm, 1.0)
    mx, my, mz = mx / norm, my / norm, mz / norm
    sx, sy, sz = (pos[k][rows_b] - pos[k][rows_a] for k in range(3))
    vx, vy, vz = (vel[k][rows_b] - vel[k][rows_a] for k in range(3))
    sn = sx * mx + sy * my + sz * mz
    vn = vx * mx + vy * my + vz * mz
    sx, sy, sz = sx - sn * mx, sy - sn * my, sz - sn * mz
    vx, vy, vz = vx - vn * mx, vy - vn * my, vz - vn * mz
    return RelativeMotion(
        sx * sx + sy * sy + sz * sz,
        sx * vx + sy * vy + sz * vz,
        vx * vx + vy * vy + vz * vz,
        kin.alt_m[rows_b] - kin.alt_m[rows_a],
        kin.vel_up_mps[rows_b] - kin.vel_up_mps[rows_a],
    )
