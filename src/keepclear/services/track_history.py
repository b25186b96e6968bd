"""Recent positions of every unit, thinned and time-bounded: incident evidence and look-back.

The track table keeps only a short ring per unit for the probe; incidents need the tracks of the
units involved for ±10 minutes, and the console looks back over the last hours. This keeps one
report per unit every ``min_interval_s`` for ``retention_s``, in memory (raw track reports are not
ledger entries; evidence snapshots are frozen and hashed when an incident opens).
"""

from __future__ import annotations

import math
import threading
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from keepclear.domain import TrackReport
from keepclear.services.tracks import ReportColumns


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How much history is kept."""

    retention_s: float = 3 * 3600.0
    min_interval_s: float = 2.0


class TrackHistory:
    """Thinned recent reports per unit, oldest first."""

    def __init__(self, limits: HistoryLimits | None = None) -> None:
        self.limits = limits or HistoryLimits()
        self._by_unit: dict[str, deque[TrackReport]] = {}
        self._parties: dict[str, str] = {}
        self._last_kept_s: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, batches: Iterable[ReportColumns]) -> None:
        """Keep each report that is at least ``min_interval_s`` newer than the unit's last kept one.

        Most reports of a busy feed are thinned away: one comparison each picks the few candidates
        (a unit's first report in ``min_interval_s``), which are then taken in order.
        """
        gap_s = self.limits.min_interval_s
        with self._lock:
            last = self._last_kept_s
            for batch in batches:
                times = batch.values[:, 0].tolist()
                candidates = [
                    index
                    for index, (unit_id, time_s) in enumerate(zip(batch.unit_ids, times, strict=True))
                    if time_s >= last.get(unit_id, -math.inf) + gap_s
                ]
                for index in candidates:
                    unit_id = batch.unit_ids[index]
                    if times[index] < last.get(unit_id, -math.inf) + gap_s:
                        continue  # an earlier report of the same batch was kept
                    kept = self._by_unit.get(unit_id)
                    if kept is None:
                        kept = self._by_unit[unit_id] = deque()
                    kept.append(batch.report(index))
                    last[unit_id] = times[index]
                    if batch.party_ids:
                        self._parties[unit_id] = batch.party_ids[index]

    def prune(self, now_s: float) -> None:
        """Forget reports older than the retention."""
        oldest_s = now_s - self.limits.retention_s
        with self._lock:
            for unit_id in list(self._by_unit):
                kept = self._by_unit[unit_id]
                while kept and kept[0].time_s < oldest_s:
                    kept.popleft()
                if not kept:
                    del self._by_unit[unit_id]
                    del self._last_kept_s[unit_id]

    def between(self, unit_ids: Iterable[str], start_s: float, end_s: float) -> list[TrackReport]:
        """Kept reports of ``unit_ids`` with ``start_s <= time_s <= end_s``, by unit then time."""
        with self._lock:
            return [
                report
                for unit_id in sorted(set(unit_ids))
                for report in self._by_unit.get(unit_id, ())
                if start_s <= report.time_s <= end_s
            ]

    def units_of(self, party_id: str) -> list[str]:
        """Units with history that ``party_id`` answers for."""
        with self._lock:
            return sorted(u for u, p in self._parties.items() if p == party_id and u in self._by_unit)

    def __len__(self) -> int:
        return sum(len(kept) for kept in self._by_unit.values())
