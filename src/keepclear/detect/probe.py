"""The tactical probe: every predicted loss of separation between units of different parties.

Pure: states and the probe time come in, conflicts go out. The same call serves the service
tick, a replay, the ``keepclear probe`` command, the tests and the benchmark.

>>> import numpy as np
>>> from keepclear.detect.states import TrackStates
>>> s = TrackStates(("a", "b"), np.array([0, 1]), np.array([0, 0]), np.zeros(2),
...     np.array([0.0, 0.0]), np.array([-0.1, 0.1]), np.full(2, 3000.0),
...     np.array([100.0, -100.0]), np.zeros(2), np.zeros(2))
>>> c = probe(s, 0.0)
>>> [(c.unit_a[0], c.unit_b[0]), round(float(c.tcpa_s[0]), 1), bool(c.los[0])]
[('a', 'b'), 111.3, False]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.detect.grid import detect_grid
from keepclear.detect.minima import DOMAIN_CODES, ProbeSettings
from keepclear.detect.states import Kinematics, TrackStates, kinematics_at

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CullGrid:
    """Cell sizes of the culling grid (a speed knob only: results never depend on it)."""

    cell_m: float = 60_000.0


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


def probe(
    states: TrackStates,
    time_s: float,
    settings: ProbeSettings | None = None,
    grid: CullGrid | None = None,
) -> Conflicts:
    """Conflicts among ``states`` extrapolated to ``time_s`` (seconds since the epoch)."""
    settings = settings or ProbeSettings()
    grid = grid or CullGrid()
    kin = kinematics_at(states, time_s)
    parts: list[tuple[IntArray, IntArray, FloatArray, tuple[float, float, float]]] = []
    for dom_a, dom_b, minima in settings.domain_pairs():
        code_a, code_b = DOMAIN_CODES[dom_a], DOMAIN_CODES[dom_b]
        in_a = states.domain == code_a
        in_b = states.domain == code_b
        if not (bool(in_a.any()) and bool(in_b.any())):
            continue
        rows = np.flatnonzero(in_a | in_b).astype(np.int64)
        if rows.shape[0] < 2:
            continue
        i, j, values = _detect(
            kin, states, rows, code_a, code_b, minima.horizontal_m, minima.vertical_m, minima.lookahead_s, grid
        )
        parts.append((i, j, values, (minima.horizontal_m, minima.vertical_m, minima.lookahead_s)))
    return _assemble(states, parts)


def _detect(
    kin: Kinematics,
    states: TrackStates,
    rows: IntArray,
    code_a: int,
    code_b: int,
    horizontal_m: float,
    vertical_m: float,
    lookahead_s: float,
    grid: CullGrid,
) -> tuple[IntArray, IntArray, FloatArray]:
    cell_m = max(grid.cell_m, horizontal_m)
    return detect_grid(
        kin.pos,
        kin.vel,
        kin.up,
        kin.alt_m,
        kin.vel_up_mps,
        states.party,
        states.domain,
        rows,
        code_a,
        code_b,
        float(horizontal_m),
        float(vertical_m),
        float(lookahead_s),
        float(cell_m),
    )


def _assemble(
    states: TrackStates, parts: list[tuple[IntArray, IntArray, FloatArray, tuple[float, float, float]]]
) -> Conflicts:
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
