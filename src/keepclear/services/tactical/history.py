"""Recent positions of every unit, thinned and time-bounded: incident evidence and look-back.

The track table keeps only a short ring per unit for the probe; incidents need the tracks of the
units involved for ±10 minutes, and the console looks back over the last hours. This keeps one
report per unit every ``min_interval_s`` for ``retention_s`` (``history_retention_s``, 3 h: more
than the evidence window and the console's look-back).

Durable (given a ``Database``): the kept reports of a batch are written in one transaction, one
multi-row insert, when the batch is acknowledged (``TrackIngest`` calls ``add`` before the feed
gets 202), and ``load`` reads them back when the service starts, so a crash, kill -9 included,
loses no acknowledged history. Reads are served from memory. The database keeps the same
retention; rows older are deleted at most every ``prune_every_s``, in short transactions, on a
thread of their own.

While the store cannot be reached (a restart, a failover), a batch's kept reports are held in
memory, at most ``max_pending_rows`` (beyond, the oldest are counted as dropped), the batch is
acknowledged all the same (the probe has it: the live picture must not stop with the store), and
the held rows are written first thing once the store answers: by the next batch, or by the
maintenance thread. Held rows are lost only if the process dies during the outage.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from keepclear.domain import TrackReport
from keepclear.errors import StoreUnavailableError
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.store import Database
from keepclear.store import track_history as store

_log = logging.getLogger("keepclear.history")

_Row = tuple[float, ...]


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    """How much history is kept, and how often the database forgets what is past the retention."""

    retention_s: float = 3 * 3600.0
    min_interval_s: float = 2.0
    prune_every_s: float = 60.0
    #: Kept reports held in memory while the store cannot be reached.
    max_pending_rows: int = 1_000_000
    #: Held rows written a transaction once the store answers again.
    flush_rows: int = 20_000


class TrackHistory:
    """Thinned recent reports per unit, oldest first; kept in ``db`` too when one is given."""

    def __init__(self, limits: HistoryLimits | None = None, db: Database | None = None) -> None:
        self.limits = limits or HistoryLimits()
        self._db = db
        #: A unit's kept reports as (time_s, lat, lon, alt, ve, vn, vu) tuples, oldest first: a tuple of
        #: floats is cheaper to make than a ``TrackReport`` and the collector stops tracking it.
        self._by_unit: dict[str, deque[_Row]] = {}
        self._parties: dict[str, str] = {}
        self._last_kept_s: dict[str, float] = {}
        self._lock = threading.Lock()  # the kept reports (readers and the final append)
        self._write_lock = threading.Lock()  # one batch at a time is thinned and written
        self._pruned_at_s = -math.inf
        self._maintenance: threading.Thread | None = None
        self.rows_pruned = 0
        #: Reports written to the database since start, and the transactions that wrote them.
        self.rows_written = 0
        self.writes = 0
        #: Rows kept while the store could not be reached, oldest first, waiting to be written.
        self._pending: deque[store.HistoryRow] = deque()
        self.pending_dropped_total = 0

    def add(self, batches: Iterable[ReportColumns]) -> None:
        """Keep each report that is at least ``min_interval_s`` newer than the unit's last kept one.

        Most reports of a busy feed are thinned away: one comparison each picks the few candidates
        (a unit's first report in ``min_interval_s``), which are then taken in order. The kept ones
        are committed to the database before they are kept in memory, so what a reader sees is durable.
        """
        for batch in batches:
            with self._write_lock:
                kept = self._thin(batch)
                if not kept:
                    continue
                party_ids = batch.party_ids or [""] * len(batch)
                values = batch.values[kept].tolist()
                if self._db is not None:
                    rows = [(batch.unit_ids[i], party_ids[i], *v) for i, v in zip(kept, values, strict=True)]
                    self._write(rows)
                with self._lock:
                    for index, row in zip(kept, map(tuple, values), strict=True):
                        self._keep(batch.unit_ids[index], row, party_ids[index])

    def _write(self, rows: list[store.HistoryRow]) -> None:
        """Write ``rows`` (after what an outage left waiting); hold them while the store cannot be
        reached. Holds ``_write_lock``."""
        assert self._db is not None
        if self._pending:
            try:
                self._flush_pending()
            except StoreUnavailableError:
                self._hold(rows)
                return
        try:
            with self._db.write() as conn:
                store.insert(conn, rows)
        except StoreUnavailableError as exc:
            if not self._pending:
                _log.warning("track history held in memory until the store answers: %s", exc.cause)
            self._hold(rows)
            return
        self.rows_written += len(rows)
        self.writes += 1

    def _hold(self, rows: list[store.HistoryRow]) -> None:
        self._pending.extend(rows)
        over = len(self._pending) - self.limits.max_pending_rows
        for _ in range(max(0, over)):
            self._pending.popleft()
        if over > 0:
            self.pending_dropped_total += over

    def _flush_pending(self) -> None:
        """Write the held rows, ``flush_rows`` a transaction, oldest first (``StoreUnavailableError``
        while the store still cannot be reached: what was not written stays held). Holds ``_write_lock``."""
        assert self._db is not None
        while self._pending:
            chunk = list(itertools.islice(self._pending, self.limits.flush_rows))
            with self._db.write() as conn:
                store.insert(conn, chunk)
            for _ in chunk:
                self._pending.popleft()
            self.rows_written += len(chunk)
            self.writes += 1
            if not self._pending:
                _log.warning("track history held through a store outage is written")

    @property
    def pending_rows(self) -> int:
        """Kept reports waiting for the store (a metric)."""
        return len(self._pending)

    def _thin(self, batch: ReportColumns) -> list[int]:
        """Indices of the reports of ``batch`` history keeps (the last kept times are not changed)."""
        gap_s = self.limits.min_interval_s
        times = batch.values[:, 0]
        last_s = np.fromiter(
            map(self._last_kept_s.get, batch.unit_ids, itertools.repeat(-math.inf)), dtype=np.float64, count=len(batch)
        )
        candidates = np.flatnonzero(times >= last_s + gap_s).tolist()
        units = [batch.unit_ids[i] for i in candidates]
        if len(set(units)) == len(units):
            return candidates  # no unit twice: each candidate is kept
        taken: dict[str, float] = {}
        kept: list[int] = []
        for index, unit_id in zip(candidates, units, strict=True):
            time_s = float(times[index])
            if time_s < taken.get(unit_id, -math.inf) + gap_s:
                continue  # an earlier report of the same batch was kept
            taken[unit_id] = time_s
            kept.append(index)
        return kept

    def _keep(self, unit_id: str, row: _Row, party_id: str) -> None:
        kept = self._by_unit.get(unit_id)
        if kept is None:
            kept = self._by_unit[unit_id] = deque()
        kept.append(row)
        self._last_kept_s[unit_id] = row[0]
        if party_id:
            self._parties[unit_id] = party_id

    def load(self, now_s: float, ahead_s: float = 60.0) -> int:
        """Read the database's history within the retention into memory (at start); returns how many.

        Rows more than ``ahead_s`` after ``now_s`` are left out: a replay's clock may be years behind
        the reports a live service stored in the same deployment."""
        if self._db is None:
            return 0
        loaded = 0
        with self._db.read() as conn, self._write_lock, self._lock:
            for rows in store.since(conn, now_s - self.limits.retention_s, now_s + ahead_s):
                for unit_id, party_id, *values in rows:
                    if values[0] >= self._last_kept_s.get(unit_id, -math.inf):
                        self._keep(unit_id, tuple(values), party_id)
                        loaded += 1
        return loaded

    def latest(self) -> ReportColumns:
        """The last kept report of every unit, with its party (to seed the picture at start)."""
        with self._lock:
            reports = [TrackReport(unit_id, *kept[-1]) for unit_id, kept in self._by_unit.items() if kept]
            parties = [self._parties.get(r.unit_id, "") for r in reports]
        columns = ReportColumns.from_reports(reports)
        return ReportColumns(columns.unit_ids, np.ascontiguousarray(columns.values), parties, [])

    def prune(self, now_s: float) -> None:
        """Forget reports older than the retention; in the database at most every ``prune_every_s``,
        on a thread of its own (a tick task must not wait for deletes and disk syncs)."""
        oldest_s = now_s - self.limits.retention_s
        due = time.monotonic() - self._pruned_at_s >= self.limits.prune_every_s or (
            self._pending and time.monotonic() - self._pruned_at_s >= 1.0  # held rows: tried every second
        )
        if self._db is not None and due and (self._maintenance is None or not self._maintenance.is_alive()):
            self._pruned_at_s = time.monotonic()
            self._maintenance = threading.Thread(
                target=self._maintain, args=(oldest_s,), name="keepclear-history-prune", daemon=True
            )
            self._maintenance.start()
        with self._lock:
            for unit_id in list(self._by_unit):
                kept = self._by_unit[unit_id]
                while kept and kept[0][0] < oldest_s:
                    kept.popleft()
                if not kept:
                    del self._by_unit[unit_id]
                    del self._last_kept_s[unit_id]

    def _maintain(self, oldest_s: float) -> None:
        assert self._db is not None
        try:
            if self._pending:
                with self._write_lock:
                    self._flush_pending()
            self.rows_pruned += store.prune(self._db, oldest_s)
            store.checkpoint(self._db)
        except StoreUnavailableError:  # an outage: the next pass tries again
            pass
        except Exception:  # the next pass tries again; ingest goes on meanwhile
            _log.exception("pruning the track history failed")

    def wait_maintenance(self, timeout_s: float = 60.0) -> None:
        """Wait for a pruning pass under way (tests, shutdown)."""
        if self._maintenance is not None:
            self._maintenance.join(timeout_s)

    def between(self, unit_ids: Iterable[str], start_s: float, end_s: float) -> list[TrackReport]:
        """Kept reports of ``unit_ids`` with ``start_s <= time_s <= end_s``, by unit then time."""
        with self._lock:
            return [
                TrackReport(unit_id, *row)
                for unit_id in sorted(set(unit_ids))
                for row in self._by_unit.get(unit_id, ())
                if start_s <= row[0] <= end_s
            ]

    def units_of(self, party_id: str) -> list[str]:
        """Units with history that ``party_id`` answers for."""
        with self._lock:
            return sorted(u for u, p in self._parties.items() if p == party_id and u in self._by_unit)

    def __len__(self) -> int:
        return sum(len(kept) for kept in self._by_unit.values())
