"""Track ingest: validate, authorise and queue position reports for the tactical probe.

Each report is judged alone: a bad one is refused with its index and reasons, the good ones of the
same batch are kept. A feed reports only its own party's units. The queue is bounded in reports,
so memory stays bounded; when it is full the whole batch is refused with a retry delay and
nothing of it is kept.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass, field

from keepclear.domain import Domain, TrackReport, track_report_problems
from keepclear.domain.events import Clock, Event
from keepclear.errors import OverloadedError
from keepclear.store import Database
from keepclear.store import registry as registry_store


@dataclass(frozen=True, slots=True)
class IngestLimits:
    """Bounds on what the ingest accepts."""

    queue_reports: int = 1_000_000
    max_future_s: float = 30.0
    max_age_s: float = 600.0


@dataclass(frozen=True, slots=True)
class QueuedReport:
    """A validated report with what the probe needs to know of its unit."""

    report: TrackReport
    party_id: str
    domain: Domain


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

    def __init__(self, directory: UnitDirectory, clock: Clock, limits: IngestLimits | None = None) -> None:
        self._directory = directory
        self._clock = clock
        self.limits = limits or IngestLimits()
        self._queue: deque[list[QueuedReport]] = deque()
        self._queued = 0
        self._lock = threading.Lock()
        self.accepted_total = 0

    @property
    def queued(self) -> int:
        """Reports waiting for the probe."""
        return self._queued

    def judge(self, reports: list[TrackReport], feed_party_id: str) -> tuple[BatchResult, list[QueuedReport]]:
        """Validate and authorise each report; nothing is queued."""
        now_s = self._clock.now_s()
        result = BatchResult()
        good: list[QueuedReport] = []
        for index, report in enumerate(reports):
            problems = track_report_problems(report)
            unit = self._directory.lookup(report.unit_id)
            if unit is None:
                problems.append(f"unit_id: unknown unit {report.unit_id!r}")
            elif unit[0] != feed_party_id:
                problems.append(
                    f"unit_id: unit {report.unit_id!r} belongs to another party; a feed reports its own units only"
                )
            if not problems and math.isfinite(report.time_s):
                if report.time_s > now_s + self.limits.max_future_s:
                    problems.append(
                        f"time: {report.time_s - now_s:.0f} s in the future (at most {self.limits.max_future_s:g} s)"
                    )
                elif report.time_s < now_s - self.limits.max_age_s:
                    problems.append(f"time: {now_s - report.time_s:.0f} s old (at most {self.limits.max_age_s:g} s)")
            if problems:
                result.refused.append((index, report.unit_id, problems))
            else:
                assert unit is not None
                result.accepted_indices.append(index)
                good.append(QueuedReport(report, unit[0], unit[1]))
        return result, good

    def submit(self, reports: list[TrackReport], feed_party_id: str) -> BatchResult:
        """Judge a batch and queue its good reports; ``OverloadedError`` when the queue is full."""
        result, good = self.judge(reports, feed_party_id)
        with self._lock:
            if self._queued + len(good) > self.limits.queue_reports:
                raise OverloadedError(
                    f"track ingest queue is full ({self._queued} reports waiting); nothing of this batch was kept",
                    retry_after_s=1.0,
                )
            if good:
                self._queue.append(good)
                self._queued += len(good)
                self.accepted_total += len(good)
        return result

    def drain(self) -> list[QueuedReport]:
        """Everything queued, oldest first; the queue is left empty."""
        with self._lock:
            batches = list(self._queue)
            self._queue.clear()
            self._queued = 0
        return [item for batch in batches for item in batch]
