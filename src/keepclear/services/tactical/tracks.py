"""Track ingest: validate, authorise and queue position reports for the tactical probe.

Reports travel as columns (``ReportColumns``) so a batch of thousands is judged with a few numpy
operations. Each report is still judged alone: a bad one is refused with its index and reasons,
the good ones of the same batch are kept. A feed reports only its own party's units.

The queue has two bounds, and a batch that would pass either is refused whole (429 with a retry
delay; nothing of it is kept): ``queue_reports`` bounds memory, and ``backlog_s`` bounds how long
the pump would take to move the queue into the track table, estimated from the CPU time the pump
spent per report (its own work only: not the time it waited for the probe's lock or for the
interpreter). So the probe never works on a picture older than that, whatever the queue setting.
And while the probe's tick is running late (``probe_late_s``: the interpreter is too busy to hold
its period), batches are refused before they are even parsed, so feeds give the probe its time
back rather than delay alerts.

The queue is shared fairly between the parties feeding it. Over its limit, a party holding less than
its share (the limit over the parties with reports queued, itself counted) is still taken, up to that
share and as long as the queue stays within twice its limit: one party's feed sending as fast as it is
answered, from as many clients as it likes, fills the queue to its limit but cannot keep another
party's feed out (which would leave that party's picture, and its alerts, behind). Admin feeds (no
party) count as one more party.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt

from keepclear.domain import Domain, TrackReport, track_report_problems
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import UnitAdded
from keepclear.domain.events import Clock, Event
from keepclear.domain.tracks import TRACK_COLUMNS, track_columns_valid
from keepclear.errors import OverloadedError
from keepclear.services.policy import unknown
from keepclear.services.shares import Shares
from keepclear.store import Database
from keepclear.store import registry as registry_store

FloatArray = npt.NDArray[np.float64]
#: Chunks of pump work the cost per report is measured over.
_COST_WINDOW = 64


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds on what the ingest accepts."""

    queue_reports: int = 1_000_000
    backlog_s: float = 0.5
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

    @classmethod
    def joined(cls, batches: Sequence[ReportColumns]) -> ReportColumns:
        """The rows of ``batches`` one after the other, in their order, with their parties and domains."""
        if len(batches) == 1:
            return batches[0]
        return cls(
            [u for b in batches for u in b.unit_ids],
            np.concatenate([b.values for b in batches]) if batches else np.zeros((0, len(TRACK_COLUMNS))),
            [p for b in batches for p in b.party_ids],
            [d for b in batches for d in b.domains],
        )

    def __len__(self) -> int:
        return len(self.unit_ids)

    def report(self, index: int) -> TrackReport:
        """Row ``index`` as a ``TrackReport``."""
        return TrackReport(self.unit_ids[index], *(float(v) for v in self.values[index]))

    def reports(self) -> Iterator[TrackReport]:
        """Every row as a ``TrackReport``."""
        for index in range(len(self.unit_ids)):
            yield self.report(index)

    def rows(self, start: int, stop: int) -> ReportColumns:
        """Rows ``start`` to ``stop`` (excluded), with their parties and domains."""
        return ReportColumns(
            self.unit_ids[start:stop], self.values[start:stop], self.party_ids[start:stop], self.domains[start:stop]
        )

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
        if event.kind == EventKind.UNIT_ADDED:
            unit = UnitAdded.from_payload(event.payload)
            with self._lock:
                self._units[unit.unit_id] = (unit.party_id, Domain(unit.domain))

    def __len__(self) -> int:
        """Units known (``units_known``: the registry's units)."""
        return len(self._units)

    def lookup(self, unit_id: str) -> tuple[str, Domain] | None:
        """The party and domain of ``unit_id``, or None for an unknown unit."""
        return self._units.get(unit_id)

    def lookup_many(self, unit_ids: Sequence[str]) -> list[tuple[str, Domain] | None]:
        """``lookup`` of each of ``unit_ids``, in their order (one pass: a feed batch's thousands)."""
        return list(map(self._units.get, unit_ids))


class TrackIngest:
    """The one path by which track reports enter: HTTP feeds, the simulator and replays alike."""

    def __init__(
        self,
        directory: UnitDirectory,
        clock: Clock,
        limits: IngestLimits | None = None,
        probe_late_s: Callable[[], float] | None = None,
        on_accepted: Callable[[list[ReportColumns]], None] | None = None,
    ) -> None:
        self._directory = directory
        #: Seconds the probe's next tick is overdue by (0 when on time); batches wait while it is.
        self._probe_late_s = probe_late_s or (lambda: 0.0)
        #: Called with a batch's good reports once they are queued, before ``submit`` returns: the
        #: durable track history is written here, so an acknowledged batch is durable.
        self._on_accepted = on_accepted
        self._clock = clock
        self.limits = limits or IngestLimits()
        self._queue: deque[tuple[str | None, ReportColumns]] = deque()  # (feeding party, its good reports)
        self._queued = 0
        self._queued_of: Shares[str | None] = Shares()  # per feeding party with reports queued: how many
        self._lock = threading.Lock()
        self.accepted_total = 0
        self.refused_total = 0
        #: Batches refused with 429: queue full, or the pump's backlog over ``backlog_s``.
        self.batches_refused_full_total = 0
        self.batches_refused_backlog_total = 0
        self.batches_refused_probe_late_total = 0
        #: Batches taken over the queue's limit on their party's fair share.
        self.batches_admitted_fair_share_total = 0
        #: CPU seconds the pump spends per report (moving it to the track table and history), smoothed;
        #: None until the pump has measured a first chunk.
        self.pump_cost_s: float | None = None
        self._chunks: deque[tuple[int, float]] = deque(maxlen=_COST_WINDOW)
        self._window_reports = 0
        self._window_cpu_s = 0.0

    @property
    def queued(self) -> int:
        """Reports waiting for the probe."""
        return self._queued

    @property
    def queued_per_party_max(self) -> int:
        """Reports the party with most queued has queued (0 when none)."""
        with self._lock:
            return self._queued_of.most()

    @property
    def backlog_s(self) -> float:
        """Estimated seconds of pump work the queue holds now (0 before the first measurement)."""
        cost_s = self.pump_cost_s
        return 0.0 if cost_s is None else self._queued * cost_s

    def chunk_reports(self, chunk_s: float, most: int) -> int:
        """How many reports the pump moves in about ``chunk_s`` of its work (between 100 and ``most``)."""
        cost_s = self.pump_cost_s
        return most if not cost_s else max(100, min(most, int(chunk_s / cost_s)))

    @property
    def backlog_limit_reports(self) -> int:
        """Reports the queue admits now: ``queue_reports``, or fewer when the pump could not move more
        than that within ``backlog_s``."""
        cost_s = self.pump_cost_s
        by_time = self.limits.queue_reports if not cost_s else int(self.limits.backlog_s / cost_s)
        return min(self.limits.queue_reports, by_time)

    def judge(self, batch: ReportColumns, feed_party_id: str | None) -> tuple[BatchResult, ReportColumns]:
        """Validate and authorise each report (``feed_party_id`` None: any known unit); nothing is queued."""
        now_s = self._clock.now_s()
        v = batch.values
        valid = track_columns_valid(*(v[:, k] for k in range(7)))
        with np.errstate(invalid="ignore"):
            too_new = v[:, 0] > now_s + self.limits.max_future_s
            too_old = v[:, 0] < now_s - self.limits.max_age_s
        units = self._directory.lookup_many(batch.unit_ids)
        if feed_party_id is None:
            own = np.fromiter((u is not None for u in units), dtype=bool, count=len(units))
        else:
            own = np.fromiter((u is not None and u[0] == feed_party_id for u in units), dtype=bool, count=len(units))
        good = own & valid & ~too_new & ~too_old
        result = BatchResult(accepted_indices=np.flatnonzero(good).tolist())
        every = len(result.accepted_indices) == len(units)
        # the units of accepted reports are known (``own``)
        known = cast("list[tuple[str, Domain]]", units if every else [units[i] for i in result.accepted_indices])
        parties, domains = [u[0] for u in known], [u[1] for u in known]
        if every:  # the usual batch: its columns as they are
            return result, ReportColumns(batch.unit_ids, batch.values, parties, domains)
        result.refused = [
            (i, batch.unit_ids[i], self._problems(batch, i, units[i], feed_party_id, now_s))
            for i in np.flatnonzero(~good).tolist()
        ]
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

    def check_open(self, feed_party_id: str | None) -> None:
        """Refuse (``OverloadedError``) before a batch is even parsed when none of ``feed_party_id``'s
        could be taken now: the probe's tick is late, or the queue is over its limit (full, or over
        ``backlog_s`` of pump work) and the party already holds its share."""
        late_s = self._probe_late_s()
        if late_s > 0:
            with self._lock:
                self.batches_refused_probe_late_total += 1
            raise OverloadedError(
                f"the probe's tick is {late_s:.1f} s late; track batches wait until it has run (nothing of"
                " this batch was kept)",
                retry_after_s=1.0,
            )
        with self._lock:
            self._admit(0, feed_party_id)

    def submit(self, batch: ReportColumns, feed_party_id: str | None) -> BatchResult:
        """Judge a batch and queue its good reports; ``OverloadedError`` when the queue is full or the
        pump's backlog would pass ``backlog_s`` (an empty queue takes any batch that fits, so feeds
        always make progress).

        Returns once ``on_accepted`` has taken the good reports (written the durable history); if it
        fails, the error is raised and the feed is not told the batch was kept.
        """
        result, good = self.judge(batch, feed_party_id)
        with self._lock:
            if len(good):
                self._admit(len(good), feed_party_id)
                self._queue.append((feed_party_id, good))
                self._queued += len(good)
                self._queued_of.take(feed_party_id, len(good))
            self.accepted_total += len(good)
            self.refused_total += len(result.refused)
        if self._on_accepted is not None and len(good):
            self._on_accepted([good])
        return result

    def _admit(self, reports: int, party_id: str | None) -> None:
        """Raise ``OverloadedError`` unless ``reports`` more of ``party_id``'s fit (0: whether one would).
        An empty queue takes any batch of at most ``queue_reports``; else the queue takes what keeps it
        within its limit (``backlog_limit_reports``), and over it what keeps the party within its fair
        share and the queue within twice its limit and ``queue_reports``. Holds ``_lock``."""
        queued, most = self._queued, self.limits.queue_reports
        if not queued and reports <= most:
            return
        limit = self.backlog_limit_reports
        wanted = max(reports, 1)  # check_open asks whether one more report would fit
        if queued + wanted <= limit:
            return
        if self._queued_of.within_share(party_id, wanted, limit, queued, min(2 * limit, most)):
            self.batches_admitted_fair_share_total += reports > 0
            return
        held = self._queued_of.get(party_id, 0)
        mine = f"{held} of them this party's"
        cost_s = self.pump_cost_s
        if cost_s is None or limit == most:
            self.batches_refused_full_total += 1
            raise OverloadedError(
                f"track ingest queue is full ({queued} reports waiting, {mine}); nothing of this batch was kept",
                retry_after_s=1.0,
            )
        self.batches_refused_backlog_total += 1
        raise OverloadedError(
            f"track ingest is {queued * cost_s:.2f} s behind ({queued} reports waiting, {mine}; at most"
            f" {self.limits.backlog_s:g} s so the probe keeps up); nothing of this batch was kept",
            retry_after_s=max(1.0, queued * cost_s),
        )

    def take(self, max_reports: int | None = None) -> list[ReportColumns]:
        """Queued batches from the oldest, at most ``max_reports`` reports (a batch may be split: its
        first rows now, the rest stays at the head of the queue)."""
        with self._lock:
            batches: list[ReportColumns] = []
            taken = 0
            while self._queue and (max_reports is None or taken < max_reports):
                party_id, head = self._queue[0]
                room = len(head) if max_reports is None else max_reports - taken
                if len(head) > room:
                    batches.append(head.rows(0, room))
                    self._queue[0] = (party_id, head.rows(room, len(head)))
                    self._queued_of.give_back(party_id, room)
                    taken += room
                    break
                self._queue.popleft()
                batches.append(head)
                self._queued_of.give_back(party_id, len(head))
                taken += len(head)
            self._queued -= taken
        return batches

    def drain(self) -> list[ReportColumns]:
        """Every queued batch, oldest first; the queue is left empty."""
        return self.take()

    def record_pump(self, reports: int, cpu_s: float) -> None:
        """The pump moved ``reports`` using ``cpu_s`` of its own CPU time: update the cost per report.

        The cost is that of the last ``_COST_WINDOW`` chunks together, so one chunk that paid for a
        garbage collection neither shuts the gate nor opens it.
        """
        if reports <= 0:
            return
        with self._lock:
            if len(self._chunks) == self._chunks.maxlen:
                old_reports, old_cpu_s = self._chunks[0]
                self._window_reports -= old_reports
                self._window_cpu_s -= old_cpu_s
            self._chunks.append((reports, max(cpu_s, 0.0)))
            self._window_reports += reports
            self._window_cpu_s += max(cpu_s, 0.0)
            self.pump_cost_s = max(self._window_cpu_s, 0.0) / self._window_reports
