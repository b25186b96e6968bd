"""The probe cut by cells across processes: what a detector worker probes (``CellShare``: the
units of its cells and their halo, keeping the pairs it owns, ``detect.cells``: a pair on a
boundary belongs to the lower cell), the cells every process of a deployment cuts detection by
(``cell_plan``), and which pairs a share keeps while a pair is followed (``share_conflicts``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from keepclear.detect.alerts import candidate_settings
from keepclear.detect.cells import CellGrid, CellPlan, view_for
from keepclear.detect.halos import AgeCaps
from keepclear.detect.minima import ProbeSettings
from keepclear.detect.probe import Conflicts, probe
from keepclear.detect.states import TrackStates
from keepclear.services.tactical.config import TacticalConfig
from keepclear.services.tactical.partitioned import select_conflicts

__all__ = ["CellShare", "cell_plan", "share_conflicts"]


@dataclass(frozen=True, slots=True)
class CellShare:
    """What a detector worker probes: the units of ``cells`` and their halo under ``plan``, keeping
    only the pairs it owns (``detect.cells``: a pair on a boundary belongs to the lower cell)."""

    plan: CellPlan
    cells: np.ndarray


def cell_plan(config: TacticalConfig, cell_deg: float) -> CellPlan:
    """The cells and halo every process of a deployment cuts detection by: the grid of ``cell_deg``,
    the probe's candidate minima (the halo covers every pair the alerting may concern) and the track
    table's stale ages as the age caps (no live unit is wide for its age)."""
    table = config.table
    return CellPlan(
        grid=CellGrid(cell_deg),
        ages=AgeCaps(table.stale_air_s, table.stale_land_s, table.stale_sea_s),
        settings=candidate_settings(config.alerting, config.probe),
    )


def share_conflicts(
    share: CellShare,
    states: TrackStates,
    now_s: float,
    candidates: ProbeSettings,
    mine: set[tuple[str, str]],
    theirs: set[tuple[str, str]],
) -> Conflicts:
    """The conflicts of the pairs ``share`` owns (rows into ``states``), save that a pair stays with
    the share that follows it: ``mine``, the pairs this share's book follows, are kept and
    ``theirs``, those another share holds an alert on, are left (unit ids in string order)."""
    view = view_for(share.plan, states, now_s, share.cells)
    local = probe(view.subset(states), now_s, candidates)
    keep = view.owns(local.row_a, local.row_b)
    if mine or theirs:
        # A pair stays with the worker that follows it (an alert, or its hysteresis counting) while
        # it sees both units, though the pair moved into another worker's cells; that one leaves
        # an alert it heard of alone (a pair it started following meanwhile is dropped silently).
        names = np.asarray(states.unit_ids, dtype=object)[view.rows]
        involved = list({unit for pair in mine | theirs for unit in pair})
        ua, ub = names[local.row_a], names[local.row_b]
        for k in np.flatnonzero(np.isin(ua, involved) & np.isin(ub, involved)).tolist():
            pair = (ua[k], ub[k]) if ua[k] < ub[k] else (ub[k], ua[k])
            if pair in theirs:
                keep[k] = False
            elif pair in mine:
                keep[k] = True
    return select_conflicts(local, keep, view.rows, states.unit_ids)
