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

from keepclear.detect.conflicts import Conflicts as Conflicts  # the probe's result, named where it is used
from keepclear.detect.conflicts import Part, assemble
from keepclear.detect.grid import detect_grid
from keepclear.detect.kinematics import kinematics_at
from keepclear.detect.minima import DOMAIN_CODES, ProbeSettings
from keepclear.detect.states import Kinematics, TrackStates

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class CullGrid:
    """Cell sizes of the culling grid (a speed knob only: results never depend on it)."""

    cell_m: float = 60_000.0


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
    parts: list[Part] = []
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
    return assemble(states, parts)


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
