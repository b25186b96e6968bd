"""What a probe returns: predicted conflicts as columns, assembled from each domain pair's rows.

Shared by the compiled probe (``probe``) and the numpy one (``numpyprobe``); numba-free.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.detect.states import TrackStates

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

#: One domain pair's conflicts: rows ``i < j``, the ``(6, k)`` values of ``pairsolve.solve_pair``
#: and the minima that applied (horizontal m, vertical m, lookahead s).
Part = tuple[IntArray, IntArray, FloatArray, tuple[float, float, float]]


@dataclass(frozen=True, slots=True)
class Conflicts:
    """Predicted conflicts, one row per unordered pair (``row_a`` < ``row_b``), in an order that
    depends only on the input (sort by rows where an order matters).

    Times are seconds after the probe time: ``t_in_s``/``t_out_s`` bound the loss of separation
    within the lookahead, ``tcpa_s``/``dcpa_m`` are the closest horizontal approach (not clipped
    to the lookahead), ``vsep_cpa_m`` the vertical distance then, ``los`` whether separation is
    lost already. ``horizontal_m``/``vertical_m``/``lookahead_s`` are the minima that applied.
    """

    row_a: IntArray
    row_b: IntArray
    unit_ids: tuple[str, ...]
    t_in_s: FloatArray
    t_out_s: FloatArray
    tcpa_s: FloatArray
    dcpa_m: FloatArray
    vsep_cpa_m: FloatArray
    los: BoolArray
    horizontal_m: FloatArray
    vertical_m: FloatArray
    lookahead_s: FloatArray

    def __len__(self) -> int:
        return int(self.row_a.shape[0])

    @property
    def unit_a(self) -> tuple[str, ...]:
        """Unit id of ``row_a`` for every conflict (built on each access: index ``unit_ids`` in loops)."""
        return tuple(self.unit_ids[k] for k in self.row_a.tolist())

    @property
    def unit_b(self) -> tuple[str, ...]:
        """Unit id of ``row_b`` for every conflict (built on each access)."""
        return tuple(self.unit_ids[k] for k in self.row_b.tolist())


def assemble(states: TrackStates, parts: list[Part]) -> Conflicts:
    """One ``Conflicts`` from each domain pair's rows and ``(6, k)`` values; no copy for one part."""
    if len(parts) == 1:
        row_a, row_b, values = parts[0][0], parts[0][1], parts[0][2]
    elif parts:
        row_a = np.concatenate([p[0] for p in parts])
        row_b = np.concatenate([p[1] for p in parts])
        values = np.concatenate([p[2] for p in parts], axis=1)
    else:
        row_a = np.empty(0, dtype=np.int64)
        row_b = np.empty(0, dtype=np.int64)
        values = np.empty((6, 0))
    # The minima are constant per part: one read-only broadcast value, not a column in memory.
    counts = [p[0].shape[0] for p in parts]
    minima = [
        np.broadcast_to(np.float64(parts[0][3][c]), (row_a.shape[0],))
        if len(parts) == 1
        else np.repeat(np.array([p[3][c] for p in parts], dtype=np.float64), counts)
        for c in range(3)
    ]
    return Conflicts(
        row_a=row_a,
        row_b=row_b,
        unit_ids=states.unit_ids,
        t_in_s=values[0],
        t_out_s=values[1],
        tcpa_s=values[2],
        dcpa_m=values[3],
        vsep_cpa_m=values[4],
        los=values[5] > 0.5,
        horizontal_m=minima[0],
        vertical_m=minima[1],
        lookahead_s=minima[2],
    )
