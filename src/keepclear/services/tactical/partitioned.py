"""The probe cut by geographic cells and run once per worker in this process, then merged.

What ``keepclear worker detect`` processes will do apart, done here in one process: each worker
probes the units of its cells plus the halo and keeps the pairs it owns (``detect.cells``). The
merged result is the single probe's, each pair once; the tests hold it to that and the partition
benchmark times it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keepclear.detect.cells import CellPlan, WorkerView, assign_cells, view_for
from keepclear.detect.probe import Conflicts, CullGrid, probe
from keepclear.detect.states import TrackStates


@dataclass(frozen=True, slots=True)
class WorkerShare:
    """One worker's run: its view and the conflicts it owns (rows into the full states)."""

    worker: str
    view: WorkerView
    conflicts: Conflicts


class PartitionedProbe:
    """Probes ``states`` as ``workers`` would, each on the cells ``assign_cells`` gives it (whole
    ``block_deg`` blocks when given)."""

    def __init__(
        self, plan: CellPlan, workers: Sequence[str], grid: CullGrid | None = None, block_deg: float | None = None
    ) -> None:
        self._plan = plan
        self._workers = tuple(workers)
        cells = np.arange(plan.grid.cell_count, dtype=np.int64)
        keys = None if block_deg is None else plan.grid.block_of(cells, block_deg)
        self._cells = assign_cells(cells, self._workers, keys)
        self._grid = grid

    @property
    def cells(self) -> dict[str, np.ndarray]:
        """Each worker's cells."""
        return dict(self._cells)

    def share(self, worker: str, states: TrackStates, time_s: float) -> WorkerShare:
        """What ``worker`` finds and owns, rows mapped back into ``states``."""
        view = view_for(self._plan, states, time_s, self._cells[worker])
        local = probe(view.subset(states), time_s, self._plan.settings, self._grid)
        return WorkerShare(worker, view, owned_conflicts(local, view, states.unit_ids))

    def shares(self, states: TrackStates, time_s: float) -> list[WorkerShare]:
        """Every worker's share."""
        return [self.share(worker, states, time_s) for worker in self._workers]

    def probe(self, states: TrackStates, time_s: float) -> Conflicts:
        """The merged conflicts of all workers (the single probe's pairs, each once)."""
        return merge([s.conflicts for s in self.shares(states, time_s)], states.unit_ids)


def owned_conflicts(local: Conflicts, view: WorkerView, unit_ids: tuple[str, ...]) -> Conflicts:
    """The conflicts of ``local`` (a probe of ``view.subset``) that the view's worker owns, rows
    mapped back into the full states (named by ``unit_ids``)."""
    return select_conflicts(local, view.owns(local.row_a, local.row_b), view.rows, unit_ids)


def select_conflicts(c: Conflicts, keep: np.ndarray, rows: np.ndarray, unit_ids: tuple[str, ...]) -> Conflicts:
    """The kept conflicts of ``c`` with local rows turned into rows of the full states (``rows`` is
    ascending, so ``row_a < row_b`` still holds)."""
    return Conflicts(
        row_a=rows[c.row_a[keep]],
        row_b=rows[c.row_b[keep]],
        unit_ids=unit_ids,
        t_in_s=c.t_in_s[keep],
        t_out_s=c.t_out_s[keep],
        tcpa_s=c.tcpa_s[keep],
        dcpa_m=c.dcpa_m[keep],
        vsep_cpa_m=c.vsep_cpa_m[keep],
        los=c.los[keep],
        horizontal_m=c.horizontal_m[keep],
        vertical_m=c.vertical_m[keep],
        lookahead_s=c.lookahead_s[keep],
    )


def merge(parts: Sequence[Conflicts], unit_ids: tuple[str, ...]) -> Conflicts:
    """One ``Conflicts`` of the workers' parts (all over the same ``unit_ids``), sorted by rows."""
    if not parts:
        empty_f = np.empty(0)
        empty_i = np.empty(0, dtype=np.int64)
        return Conflicts(
            empty_i, empty_i, unit_ids, empty_f, empty_f, empty_f, empty_f, empty_f, empty_f.astype(bool),
            empty_f, empty_f, empty_f,
        )  # fmt: skip
    row_a = np.concatenate([p.row_a for p in parts])
    row_b = np.concatenate([p.row_b for p in parts])
    order = np.lexsort((row_b, row_a))

    def cat(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(p, name)) for p in parts])[order]

    return Conflicts(
        row_a=row_a[order],
        row_b=row_b[order],
        unit_ids=unit_ids,
        t_in_s=cat("t_in_s"),
        t_out_s=cat("t_out_s"),
        tcpa_s=cat("tcpa_s"),
        dcpa_m=cat("dcpa_m"),
        vsep_cpa_m=cat("vsep_cpa_m"),
        los=cat("los"),
        horizontal_m=cat("horizontal_m"),
        vertical_m=cat("vertical_m"),
        lookahead_s=cat("lookahead_s"),
    )
