"""One share of a detector worker being probed in this process: its probe and alert book
(``TacticalService`` with a ``CellShare``), its feed of reports (``TrackFeed``), and its run.

Alert ids and runs. An alert id is ``alert-`` and 80 random bits, as an embedded probe's: it names
neither the share nor the run (parties see it). Each alert event a share emits carries the share's
run mark instead (``Event.emitted_by``), which crosses processes as a bus header no party reads; a
share starting resolves the alerts still active that its earlier runs raised, told by that mark, or
by an id of the shape workers gave before (``run_marks``: the choice of carrier and why).
``retrying``: a step of a share's start, tried again while JetStream does not answer yet.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import nats.errors

from keepclear.detect.cells import CellPlan, cells_in_view
from keepclear.domain.event_kinds import ALERT_KINDS, EventKind
from keepclear.domain.events import Event
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.detect_shares import Share
from keepclear.services.runtime.nats_bus import NatsBus
from keepclear.services.runtime.nats_tracks import TrackFeed, track_subjects
from keepclear.services.runtime.run_marks import raised_earlier, run_mark
from keepclear.services.tactical.service import CellShare, TacticalConfig, TacticalService

__all__ = ["RunningShare", "retrying"]

_log = logging.getLogger("keepclear.worker.detect")
T = TypeVar("T")


class RunningShare:
    """A share being probed in this process: its probe and alert book, its feed of reports.

    ``bus``: the deployment's bus (NATS); ``plan``: the deployment's cells; ``config``: the probe's.
    """

    def __init__(
        self, deployment: Deployment, bus: NatsBus, config: TacticalConfig, plan: CellPlan, share: Share
    ) -> None:
        self.share = share
        self.name = share.name
        #: This run: 64 random bits, so that it says nothing of other runs either. With the share's
        #: name it marks every alert event of the run (``run_mark``, ``Event.emitted_by``).
        self.run = secrets.token_hex(8)
        self.mark = run_mark(share.name, self.run)
        #: Every cell whose subject the share consumes (its own and the halo's), ascending.
        self.view_cells = cells_in_view(plan, share.cells)
        self.tactical = TacticalService(
            deployment.db,
            deployment.clock,
            bus,
            config,
            share=CellShare(plan, share.cells),
            watch_zones=False,
            emitted_by=self.mark,
            # the zones it cannot draw: logged once and counted per process (the worker's status)
            undrawable_zones=deployment.undrawable_zones,
        )
        self.feed = TrackFeed(
            bus,
            share.name,
            track_subjects(self.view_cells.tolist(), plan.grid.cell_count),
            self.tactical.consume,
            replicas=deployment.settings.bus_replicas,
        )
        #: Alerts of earlier runs of this share resolved here (at start, or heard late).
        self._retired: set[str] = set()
        self._lock = threading.Lock()

    def earlier_run(self, event: Event) -> bool:
        """Whether alert event ``event`` is of an alert of this share raised by another run (``raised_earlier``)."""
        return raised_earlier(event, self.name, self.run)

    def retire(self, heard: list[Event]) -> list[Event]:
        """From alert events heard (oldest first), the ``alert.resolved`` of those still active that an
        earlier run of this share raised (their book died with it), each resolved once."""
        with self._lock:
            resolved = [
                e
                for e in self.tactical.learn_alerts(heard, self.earlier_run)
                if e.payload["alert_id"] not in self._retired
            ]
            self._retired.update(e.payload["alert_id"] for e in resolved)
        return resolved

    def on_event(self, event: Event) -> list[Event]:
        """Hand ``event`` (any process's) to the probe; returns what must be published in answer: the
        resolution of an earlier run's alert heard late (a share handed over while its last events
        were on their way)."""
        if event.kind in ALERT_KINDS and self.earlier_run(event):
            if event.kind in (EventKind.ALERT_RAISED, EventKind.ALERT_LEVEL_CHANGED):
                return self.retire([event])
            return []
        self.tactical.on_event(event)
        return []


def retrying(step: Callable[[], T], attempts: int = 5) -> T:
    """``step()``, tried again after a pause when JetStream does not answer in time or is not
    ready yet (a cluster just formed, an election); ``ConnectionError`` after ``attempts``."""
    for attempt in range(1, attempts + 1):
        try:
            return step()
        except (TimeoutError, ConnectionError, nats.errors.Error) as exc:
            if attempt == attempts:
                raise ConnectionError(f"bus_url: JetStream did not answer: {exc!r}") from exc
            _log.warning("JetStream did not answer (%r); trying again", exc)
            time.sleep(1.0)
    raise AssertionError("unreachable")
