"""Track ingest: validate, authorise and queue position reports for the tactical probe.

Reports travel as columns (``ReportColumns``) so a batch of thousands is judged with a few numpy
operations. Each report is still judged alone: a bad one is refused with its index and reasons,
the good ones of the same batch are kept. A feed reports only its own party's units. The queue
is bounded in reports, so memory stays bounded; when it is full the whole batch is refused with a
retry delay and nothing of it is kept.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from keepclear.domain import Domain, TrackReport, track_report_problems
from keepclear.domain.events import Clock, Event
from keepclear.domain.tracks import TRACK_COLUMNS, track_columns_valid
from keepclear.errors import OverloadedError
from keepclear.services.policy import unknown
from keepclear.store import Database
from keepclear.store import registry as registry_store

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds on what the ingest accepts."""

    queue_reports: int = 1_000_000
    max_future_s: float = 30.0
    max_age_s: float = 600.0


@dataclass(frozen=True)
class ReportColumns:
    """Reports as columns: ``unit_ids[i]`` with ``values[i]`` = time, lat, lon, alt, ve, vn, vu.

    After judging, ``party_ids`` and ``domains`` say whom each unit answers to.
    """

    unit_ids: list[str]
    values: FloatArray
    party_ids: list[str] = field(default_factory=list)
    domains: list[Domain] = field(default_factory=list)

    @classmethod
    def from_reports(cls, reports: Sequence[TrackReport]) -> ReportColumns:
        """Columns of ``reports``."""
        values = np.array([[getattr(r, c) for c in TRACK_COLUMNS] for r in reports], dtype=np.float64).reshape(-1, 7)
        return cls([r.unit_id for r in reports], values)

    def __len__(self) -> int:
        return len(self.unit_ids)

    def report(self, index: int) -> TrackReport:
        """Row ``index`` as a ``TrackReport``."""
        return TrackReport(self.unit_ids[index], *(float(v) for v in self.values[index]))

    def reports(self) -> Iterator[TrackReport]:
        """Every row as a ``TrackReport``."""
        for index in range(len(self.unit_ids)):
            yield self.report(index)

    def take(self, indices: list[int], party_ids: list[str], domains: list[Domain]) -> ReportColumns:
        """The rows ``indices``, with their units' parties and domains."""
        return ReportColumns([self.unit_ids[i] for i in indices], self.values[indices], party_ids, domains)


@dataclass
class BatchResult:
    """What became of each report of a batch."""

    accepted_indices: list[int] = field(default_factory=list)
    refused: list[tuple[int, str, list[str]]] = field(default_factory=list)


class UnitDirectory:
    """Unit id → (party, domain), kept in memory and refreshed on ``unit.added`` events."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._units: dict[str, tuple[str, Domain]] = {}
        self.reload()

    def reload(self) -> None:
        """Read every unit from the store."""
        with self._db.read() as conn:
            units = {u.id: (party, u.domain) for u, party in registry_store.list_units(conn)}
        with self._lock:
            self._units = units

    def on_event(self, event: Event) -> None:
        """Bus subscriber: learn new units as they are added."""
        if event.kind == "unit.added":
            payload = event.payload
            with self._lock:
                self._units[payload["unit_id"]] = (payload["party_id"], Domain(payload["domain"]))

    def lookup(self, unit_id: str) -> tuple[str, Domain] | None:
        """The party and domain of ``unit_id``, or None for an unknown unit."""
        return self._units.get(unit_id)


class TrackIngest:
    """The one path by which track reports enter: HTTP feeds, the simulator and replays alike."""

    def __init__(
        self,
        directory: UnitDirectory,
        clock: Clock,
        limits: IngestLimits | None = None,
        on_accepted: Callable[[list[ReportColumns]], None] | None = None,
    ) -> None:
        self._directory = directory
        #: Called with a batch's good reports once they are queued, before ``submit`` returns: the
        #: durable track history is written here, so an acknowledged batch is durable.
        self._on_accepted = on_accepted
        self._clock = clock
        self.limits = limits or IngestLimits()
        self._queue: deque[ReportColumns] = deque()
        self._queued = 0
        self._lock = threading.Lock()
        self.accepted_total = 0
        self.refused_total = 0

    @property
    def queued(self) -> int:
        """Reports waiting for the probe."""
        return self._queued

    def judge(self, batch: ReportColumns, feed_party_id: str | None) -> tuple[BatchResult, ReportColumns]:
        """Validate and authorise each report (``feed_party_id`` None: any known unit); nothing is queued."""
        now_s = self._clock.now_s()
        v = batch.values
        valid = track_columns_valid(*(v[:, k] for k in range(7)))
        with np.errstate(invalid="ignore"):
            too_new = v[:, 0] > now_s + self.limits.max_future_s
            too_old = v[:, 0] < now_s - self.limits.max_age_s
        result = BatchResult()
        parties: list[str] = []
        domains: list[Domain] = []
        lookup = self._directory.lookup
        for index, unit_id in enumerate(batch.unit_ids):
            unit = lookup(unit_id)
            own = unit is not None and (feed_party_id is None or unit[0] == feed_party_id)
            if own and valid[index] and not too_new[index] and not too_old[index]:
                assert unit is not None
                result.accepted_indices.append(index)
                parties.append(unit[0])
                domains.append(unit[1])
                continue
            result.refused.append((index, unit_id, self._problems(batch, index, unit, feed_party_id, now_s)))
        return result, batch.take(result.accepted_indices, parties, domains)

    def _problems(
        self, batch: ReportColumns, index: int, unit: tuple[str, Domain] | None, feed_party_id: str | None, now_s: float
    ) -> list[str]:
        report = batch.report(index)
        problems = track_report_problems(report)
        if unit is None or (feed_party_id is not None and unit[0] != feed_party_id):
            # another party's unit answers exactly as a unit that does not exist: ids cannot be enumerated
            problems.append(f"unit_id: {unknown('unit', report.unit_id)}")
        if not problems:
            if report.time_s > now_s + self.limits.max_future_s:
                ahead_s = report.time_s - now_s
                problems.append(f"time: {ahead_s:.0f} s in the future (at most {self.limits.max_future_s:g} s)")
            else:
                problems.append(f"time: {now_s - report.time_s:.0f} s old (at most {self.limits.max_age_s:g} s)")
        return problems

    def submit(self, batch: ReportColumns, feed_party_id: str | None) -> BatchResult:
        """Judge a batch and queue its good reports; ``OverloadedError`` when the queue is full.

        Returns once ``on_accepted`` has taken the good reports (written the durable history); if it
        fails, the error is raised and the feed is not told the batch was kept.
        """
        result, good = self.judge(batch, feed_party_id)
        with self._lock:
            if self._queued + len(good) > self.limits.queue_reports:
                raise OverloadedError(
                    f"track ingest queue is full ({self._queued} reports waiting); nothing of this batch was kept",
                    retry_after_s=1.0,
                )
            if len(good):
                self._queue.append(good)
                self._queued += len(good)
            self.accepted_total += len(good)
            self.refused_total += len(result.refused)
        if self._on_accepted is not None and len(good):
            self._on_accepted([good])
        return result

    def drain(self) -> list[ReportColumns]:
        """Every queued batch, oldest first; the queue is left empty."""
        with self._lock:
            batches = list(self._queue)
            self._queue.clear()
            self._queued = 0
        return batches
