"""The track table: the latest state of every unit as columns, plus a short history per unit.

Reports are validated with ``track_report_problems`` (a bad one never enters), an older or
duplicate report never overwrites a newer one, and units not heard from within their domain's
stale time are dropped on ``drop_stale``. Time is passed in; nothing here reads a clock.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from keepclear.detect.minima import DOMAIN_CODES
from keepclear.detect.states import TrackStates
from keepclear.domain import Domain, TrackReport, track_report_problems
from keepclear.domain.tracks import TRACK_COLUMNS, track_columns_valid
from keepclear.errors import ValidationError

FloatArray = npt.NDArray[np.float64]

_FIELDS = TRACK_COLUMNS


@dataclass(frozen=True, slots=True)
class TrackTableSettings:
    """How long a unit stays without a report, and how many past reports each unit keeps."""

    stale_air_s: float = 60.0
    stale_land_s: float = 600.0
    stale_sea_s: float = 600.0
    history_len: int = 32

    def stale_s(self, domain: Domain) -> float:
        """Seconds without a report after which a unit of ``domain`` is dropped."""
        return {Domain.AIR: self.stale_air_s, Domain.LAND: self.stale_land_s, Domain.SEA: self.stale_sea_s}[domain]


class Outcome(enum.StrEnum):
    """What ``TrackTable.update`` did with a report."""

    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    OUT_OF_ORDER = "out-of-order"


class TrackTable:
    """Latest state per unit in numpy columns (row order is arbitrary and changes on removal)."""

    def __init__(self, settings: TrackTableSettings | None = None, capacity: int = 64) -> None:
        self.settings = settings or TrackTableSettings()
        self._row: dict[str, int] = {}
        self._ids: list[str] = []
        self._party_code: dict[str, int] = {}
        self._party_ids: list[str] = []
        self._cap = max(1, capacity)
        self._data = np.zeros((self._cap, len(_FIELDS)))
        self._party = np.zeros(self._cap, dtype=np.int64)
        self._domain = np.zeros(self._cap, dtype=np.int64)
        h = max(1, self.settings.history_len)
        self._hist = np.zeros((self._cap, h, len(_FIELDS)))
        self._hist_count = np.zeros(self._cap, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, unit_id: object) -> bool:
        return unit_id in self._row

    def party_code(self, party_id: str) -> int:
        """The integer code of ``party_id`` in ``TrackStates.party`` (allocated on first use)."""
        code = self._party_code.get(party_id)
        if code is None:
            code = len(self._party_ids)
            self._party_code[party_id] = code
            self._party_ids.append(party_id)
        return code

    def party_id(self, code: int) -> str:
        """The party id behind a code."""
        return self._party_ids[code]

    @property
    def party_ids(self) -> tuple[str, ...]:
        """Party ids by code: what ``AlertBook.update`` and the zone probe take as ``party_ids``."""
        return tuple(self._party_ids)

    def update(self, report: TrackReport, party_id: str, domain: Domain) -> Outcome:
        """Take one report of a unit that ``party_id`` answers for (a partner force: its party).

        Raises ``ValidationError`` listing the problems when the report is malformed; nothing
        changes then.
        """
        problems = track_report_problems(report)
        if problems:
            raise ValidationError([f"track report of {report.unit_id!r}: {p}" for p in problems])
        values = np.array([getattr(report, f) for f in _FIELDS], dtype=np.float64)
        row = self._row.get(report.unit_id)
        if row is not None:
            latest = float(self._data[row, 0])
            if report.time_s == latest:
                return Outcome.DUPLICATE
            if report.time_s < latest:
                return Outcome.OUT_OF_ORDER
        else:
            row = self._append(report.unit_id)
        self._data[row] = values
        self._party[row] = self.party_code(party_id)
        self._domain[row] = DOMAIN_CODES[domain]
        h = self._hist.shape[1]
        self._hist[row, self._hist_count[row] % h] = values
        self._hist_count[row] += 1
        return Outcome.ACCEPTED

    def drop_stale(self, now_s: float) -> list[str]:
        """Remove units whose latest report is older than their domain's stale time; their ids."""
        n = len(self._ids)
        limits = np.array([self.settings.stale_s(d) for d in sorted(DOMAIN_CODES, key=DOMAIN_CODES.__getitem__)])
        age = now_s - self._data[:n, 0]
        stale = np.flatnonzero(age > limits[self._domain[:n]])
        gone = [self._ids[k] for k in stale.tolist()]
        for unit_id in gone:
            self.remove(unit_id)
        return gone

    def remove(self, unit_id: str) -> bool:
        """Forget a unit (its history too); False when it was not there."""
        row = self._row.pop(unit_id, None)
        if row is None:
            return False
        last = len(self._ids) - 1
        if row != last:
            moved = self._ids[last]
            self._ids[row] = moved
            self._row[moved] = row
            self._data[row] = self._data[last]
            self._party[row] = self._party[last]
            self._domain[row] = self._domain[last]
            self._hist[row] = self._hist[last]
            self._hist_count[row] = self._hist_count[last]
        self._ids.pop()
        self._hist_count[last] = 0
        return True

    def states(self) -> TrackStates:
        """A copy of the live rows, for the probe."""
        n = len(self._ids)
        d = self._data[:n].copy()
        return TrackStates(
            tuple(self._ids),
            self._party[:n].copy(),
            self._domain[:n].copy(),
            d[:, 0],
            d[:, 1],
            d[:, 2],
            d[:, 3],
            d[:, 4],
            d[:, 5],
            d[:, 6],
        )

    def history(self, unit_id: str) -> list[TrackReport]:
        """The unit's kept reports, oldest first (empty for an unknown unit)."""
        row = self._row.get(unit_id)
        if row is None:
            return []
        h = self._hist.shape[1]
        count = int(self._hist_count[row])
        order = [(count - k - 1) % h for k in range(min(count, h))][::-1]
        return [TrackReport(unit_id, *(float(v) for v in self._hist[row, k])) for k in order]

    def _append(self, unit_id: str) -> int:
        row = len(self._ids)
        if row == self._cap:
            self._grow()
        self._ids.append(unit_id)
        self._row[unit_id] = row
        self._hist_count[row] = 0
        return row

    def _grow(self) -> None:
        cap = self._cap * 2
        self._data = np.concatenate([self._data, np.zeros_like(self._data)])
        self._party = np.concatenate([self._party, np.zeros_like(self._party)])
        self._domain = np.concatenate([self._domain, np.zeros_like(self._domain)])
        self._hist = np.concatenate([self._hist, np.zeros_like(self._hist)])
        self._hist_count = np.concatenate([self._hist_count, np.zeros_like(self._hist_count)])
        self._cap = cap

    def update_columns(
        self,
        unit_ids: Sequence[str],
        values: FloatArray,
        party_ids: Sequence[str],
        domains: Sequence[Domain],
    ) -> int:
        """Take a batch of reports as columns (``values[i]`` = time, lat, lon, alt, ve, vn, vu).

        The same outcome as calling ``update`` on each report in order, in a few numpy operations
        a round: a batch that names a unit more than once (several feed batches joined) is taken
        in rounds, the first report of each unit, then the second..., so each unit's reports
        still come in their order (one report at a time when the rounds would be more than a
        quarter of the reports); malformed rows are skipped (never entered). Returns how many
        reports were accepted.
        """
        n = len(unit_ids)
        if n == 0:
            return 0
        if len(set(unit_ids)) != n:
            seen: dict[str, int] = {}
            rounds: list[list[int]] = []
            for i, unit_id in enumerate(unit_ids):
                k = seen.get(unit_id, 0)
                seen[unit_id] = k + 1
                if k == len(rounds):
                    rounds.append([])
                rounds[k].append(i)
            if len(rounds) > n // 4:  # few units, many reports each: a round costs more than a report
                ok = track_columns_valid(*(values[:, k] for k in range(len(_FIELDS))))
                accepted = 0
                for i in np.flatnonzero(ok).tolist():
                    report = TrackReport(unit_ids[i], *(float(v) for v in values[i]))
                    accepted += self.update(report, party_ids[i], domains[i]) is Outcome.ACCEPTED
                return accepted
            return sum(
                self._update_unique(
                    [unit_ids[i] for i in rows],
                    values[rows],
                    [party_ids[i] for i in rows],
                    [domains[i] for i in rows],
                )
                for rows in rounds
            )
        return self._update_unique(unit_ids, values, party_ids, domains)

    def _update_unique(
        self, unit_ids: Sequence[str], values: FloatArray, party_ids: Sequence[str], domains: Sequence[Domain]
    ) -> int:
        """``update_columns`` of a batch that names each unit once."""
        n = len(unit_ids)
        ok = track_columns_valid(*(values[:, k] for k in range(len(_FIELDS))))
        get = self._row.get
        rows = np.fromiter((get(unit_id, -1) for unit_id in unit_ids), dtype=np.int64, count=n)
        for i in np.flatnonzero((rows < 0) & ok).tolist():  # units new to the picture
            rows[i] = self._append(unit_ids[i])
            self._data[rows[i], 0] = -np.inf
        take = ok & (rows >= 0)
        take[take] = values[take, 0] > self._data[rows[take], 0]
        sel = rows[take]
        if sel.shape[0] == 0:
            return 0
        self._data[sel] = values[take]
        party_codes = {party_id: self.party_code(party_id) for party_id in set(party_ids)}
        self._party[sel] = np.fromiter(map(party_codes.__getitem__, party_ids), dtype=np.int64, count=n)[take]
        self._domain[sel] = np.fromiter(map(DOMAIN_CODES.__getitem__, domains), dtype=np.int64, count=n)[take]
        h = self._hist.shape[1]
        self._hist[sel, self._hist_count[sel] % h] = values[take]
        self._hist_count[sel] += 1
        return int(sel.shape[0])
