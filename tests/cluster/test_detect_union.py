"""Two detector workers' alerts together are the single-process probe's, each alert once.

The workers are ``TacticalService``s with a ``CellShare`` (what ``keepclear worker detect`` runs),
each fed only the messages of the subjects it subscribes to (``split_by_cell``, ``cells_in_view``,
``track_subjects``: the subject routing itself is under test); the single process is the embedded
``TacticalService``. Every tick, the events of the two workers together are the single process's
(ids of alerts aside: each book draws its own), and no pair is alerted by both: an alert stays
with the worker that raised it when its pair moves into the other's cells, the other having heard
of it on the bus (here: handed each other's events between ticks).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from keepclear.detect.cells import cells_in_view
from keepclear.domain import Domain
from keepclear.domain.event_kinds import ALERT_KINDS
from keepclear.domain.events import Event
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.runtime.run_marks import raised_earlier, run_mark
from keepclear.services.tactical.service import CellShare, TacticalService, cell_plan
from keepclear.services.tactical.track_wire import WIDE, reports_from_bytes, reports_to_bytes, split_by_cell
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.settings import Settings

START_S = 1_800_000_000.0
TICKS = 40


class Kept:
    """A bus subscriber that keeps every event."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def __call__(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


def scene(rng: np.random.Generator) -> tuple[list[str], list[str], np.ndarray]:
    """Aircraft around the corner of four 10° cells (40° N, 30°-ish E): converging pairs astride the
    boundaries, jets crossing them, a few too fast for the speed cap (wide); three parties."""
    units, parties, rows = [], [], []
    for k in range(60):  # converging pairs, each across or near a boundary
        lat, lon = 40.0 + rng.uniform(-0.3, 0.3), 31.5 + rng.uniform(-3, 3)
        heading = rng.uniform(0, 2 * np.pi)
        speed = rng.uniform(120, 260)
        half_m = rng.uniform(3_000, 40_000)
        for side in (-1, 1):
            dlat = side * half_m * np.cos(heading) / 111_000
            dlon = side * half_m * np.sin(heading) / (111_000 * np.cos(np.radians(lat)))
            units.append(f"p{k:02d}{'ab'[side > 0]}")
            parties.append(("a", "b", "c")[(k + (side > 0)) % 3])
            ve, vn = -side * speed * np.sin(heading), -side * speed * np.cos(heading)
            rows.append([lat + dlat, lon + dlon, 7_000 + rng.uniform(-150, 150), ve, vn, 0.0])
    for k in range(80):  # traffic across the region
        units.append(f"t{k:02d}")
        parties.append(("a", "b", "c")[k % 3])
        heading = rng.uniform(0, 2 * np.pi)
        speed = 900.0 if k < 4 else rng.uniform(50, 300)  # four over the air speed cap: wide units
        rows.append(
            [
                40.0 + rng.uniform(-2, 2),
                31.5 + rng.uniform(-5, 5),
                rng.choice([6_900.0, 7_000.0, 7_100.0]),
                speed * np.sin(heading),
                speed * np.cos(heading),
                0.0,
            ]
        )
    return units, parties, np.array(rows)


def reports_at(units: list[str], parties: list[str], start: np.ndarray, t_s: float) -> ReportColumns:
    """Every unit's report at ``t_s``: moved along its velocity since ``START_S``."""
    dt = t_s - START_S
    values = np.empty((len(units), 7))
    values[:, 0] = t_s
    values[:, 1] = start[:, 0] + start[:, 4] * dt / 111_000
    values[:, 2] = start[:, 1] + start[:, 3] * dt / (111_000 * np.cos(np.radians(start[:, 0])))
    values[:, 3] = start[:, 2]
    values[:, 4:] = start[:, 3:]
    return ReportColumns(list(units), values, list(parties), [Domain.AIR] * len(units))


def comparable(events: list[Event]) -> Counter[tuple[Any, ...]]:
    """Each alert event without its alert id (each worker names its alerts)."""
    return Counter(
        (
            str(e.kind),
            e.time_s,
            e.payload["unit_a"],
            e.payload["unit_b"],
            e.payload.get("level"),
            tuple(sorted(e.parties)),
        )
        for e in events
        if e.kind in ALERT_KINDS
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_two_workers_raise_together_what_one_process_raises(tmp_path: Path, seed: int) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    deployment = Deployment.open(settings, clock=ManualClock(START_S), create=True)
    try:
        config = RuntimeConfig.from_settings(settings).tactical
        plan = cell_plan(config, settings.detect_cell_deg)
        units, parties, start = scene(np.random.default_rng(seed))
        probe = reports_at(units, parties, start, START_S)
        cells_here = np.unique(plan.grid.cell_of(probe.values[:, 1], probe.values[:, 2]))
        assert len(cells_here) >= 4, "the scene must straddle cell boundaries"
        # Worker A owns the cells south of 40° N, B those north of it: every boundary pair is shared.
        south = cells_here[[plan.grid.bounds_deg(int(c))[1] <= 40.0 for c in cells_here]]
        north = np.setdiff1d(np.arange(plan.grid.cell_count), south)
        single_kept, single = Kept(), EventBus()
        single.subscribe_batches(single_kept)
        one = TacticalService(deployment.db, deployment.clock, single, config, watch_zones=False)
        workers = []
        for name, cells in (("south", south), ("north", north)):
            bus, kept = EventBus(), Kept()
            bus.subscribe_batches(kept)
            service = TacticalService(
                deployment.db,
                deployment.clock,
                bus,
                config,
                share=CellShare(plan, cells),
                watch_zones=False,
                emitted_by=run_mark(name, "0a1b2c3d4e5f6071"),
            )
            subjects = {str(c) for c in cells_in_view(plan, cells).tolist()} | {WIDE}
            workers.append((service, kept, subjects))
        raised_total = 0
        for tick in range(TICKS):
            t_s = START_S + tick
            batch = reports_at(units, parties, start, t_s)
            one.consume([batch])
            by_subject = split_by_cell(plan, batch)
            for service, _, subjects in workers:
                # what the worker's consumer is delivered: its subjects' messages, through the wire form
                service.consume(
                    [reports_from_bytes(reports_to_bytes(part)) for s in subjects for part in by_subject.get(s, [])]
                )
            before = len(single_kept.events)
            one.tick(t_s)
            ticked = []
            for service, kept, _ in workers:
                done = len(kept.events)
                service.tick(t_s)
                ticked.append(kept.events[done:])
            # the bus: each worker hears the other's alert events before its next tick
            for (service, _, _), heard in zip(workers, reversed(ticked), strict=True):
                for event in heard:
                    service.on_event(event)
            merged = [e for _, kept, _ in workers for e in kept.events]
            assert comparable(merged) == comparable(single_kept.events), f"tick {tick}"
            raised_total += sum(e.kind == "alert.raised" for e in single_kept.events[before:])
        alerted = [
            {(e.payload["unit_a"], e.payload["unit_b"]) for e in kept.events if e.kind == "alert.raised"}
            for _, kept, _ in workers
        ]
        assert not alerted[0] & alerted[1], "a pair alerted by both workers"
        assert alerted[0] and alerted[1], "each worker must own some alerts for the comparison to mean anything"
        assert raised_total >= 10
        shared = [p for p in alerted[0] | alerted[1] if p[0][:3] == p[1][:3] and p[0].startswith("p")]
        assert shared, "some converging pairs must be alerted"
        print({"seed": seed, "alerts_raised": raised_total, "south": len(alerted[0]), "north": len(alerted[1])})
    finally:
        deployment.close()


def test_a_starting_worker_resolves_its_earlier_runs_alerts_and_leaves_the_others(tmp_path: Path) -> None:
    """The alerts still active that an earlier run of the share raised (told by the run mark on their
    events, or by an id of the shape workers gave before the upgrade) are resolved; the others' left."""
    from keepclear.domain.event_kinds import EventKind
    from keepclear.domain.event_payloads import AlertChange

    settings = Settings(data_dir=tmp_path / "data")
    deployment = Deployment.open(settings, clock=ManualClock(START_S + 100), create=True)
    try:
        config = RuntimeConfig.from_settings(settings).tactical
        plan = cell_plan(config, settings.detect_cell_deg)
        service = TacticalService(
            deployment.db,
            deployment.clock,
            EventBus(),
            config,
            share=CellShare(plan, np.array([343])),
            watch_zones=False,
            emitted_by=run_mark("me", "0e1e2e3e4e5e6e7e"),
        )

        def heard(
            kind: EventKind, alert_id: str, pair: tuple[str, str], level: str = "caution", by: str | None = None
        ) -> Event:
            payload = {
                "alert_id": alert_id,
                "unit_a": pair[0],
                "unit_b": pair[1],
                "party_a": "a",
                "party_b": "b",
                "level": level,
                "level_number": 2,
                "raised_s": START_S,
            }
            return Event(kind, START_S, None, payload, frozenset({"a", "b"}), emitted_by=by)

        earlier, other = run_mark("me", "01d1"), run_mark("other", "09a9")
        events = [
            heard(EventKind.ALERT_RAISED, "alert-5e0b7c2a91d4f3086a2b", ("u1", "u2"), by=earlier),
            heard(EventKind.ALERT_RAISED, "alert-c3a9f1e07b5d2468e1f0", ("u3", "u4"), by=earlier),
            heard(EventKind.ALERT_RESOLVED, "alert-c3a9f1e07b5d2468e1f0", ("u3", "u4"), "none", by=earlier),
            heard(EventKind.ALERT_RAISED, "alert-0f6d2e8b4a1c9735d0e4", ("u5", "u6"), by=other),
            # raised before the upgrade: no mark, the share and run in the id
            heard(EventKind.ALERT_RAISED, "alert-me-old1-77c1d0e2f3a4b5c6d7e8", ("u7", "u8")),
            heard(EventKind.ALERT_RAISED, "alert-other-old9-0123456789abcdef0123", ("u9", "u10")),
        ]
        resolved = service.learn_alerts(events, lambda event: raised_earlier(event, "me", "0e1e2e3e4e5e6e7e"))
        assert [(e.kind, e.payload["alert_id"]) for e in resolved] == [
            (EventKind.ALERT_RESOLVED, "alert-5e0b7c2a91d4f3086a2b"),
            (EventKind.ALERT_RESOLVED, "alert-me-old1-77c1d0e2f3a4b5c6d7e8"),
        ]
        change = AlertChange.from_payload(resolved[0].payload)  # the typed form of the kind
        assert (change.level, change.previous_level, change.time_s) == ("none", "caution", START_S + 100)
        # the resolutions are this run's events (its mark on them)
        assert {e.emitted_by for e in resolved} == {run_mark("me", "0e1e2e3e4e5e6e7e")}
        # the other worker's alerts are left to it: this worker will not raise those pairs
        assert service.held_elsewhere == {
            "alert-0f6d2e8b4a1c9735d0e4": ("u5", "u6"),
            "alert-other-old9-0123456789abcdef0123": ("u9", "u10"),
        }
    finally:
        deployment.close()


def test_an_api_process_knows_the_workers_alerts_from_their_events(tmp_path: Path) -> None:
    """``pairs_in_workers``: the alerts heard on the bus answer ``alerts_for`` and take acknowledgements;
    a loss of separation of an alert never heard raised (a process started late) adds nothing."""
    from keepclear.domain.event_kinds import EventKind
    from keepclear.errors import NotFoundError

    settings = Settings(data_dir=tmp_path / "data")
    deployment = Deployment.open(settings, clock=ManualClock(START_S + 5), create=True)
    try:
        config = RuntimeConfig.from_settings(settings).tactical
        bus, kept = EventBus(), Kept()
        bus.subscribe_batches(kept)
        api = TacticalService(deployment.db, deployment.clock, bus, config, pairs_in_workers=True)
        base = {
            "alert_id": "alert-7b3e0c9a5f1d2864b0a7",
            "unit_a": "ua",
            "unit_b": "ub",
            "party_a": "a",
            "party_b": "b",
            "level": "warning",
            "level_number": 3,
            "raised_s": START_S,
        }
        api.on_event(Event(EventKind.ALERT_SEPARATION_LOST, START_S, None, {**base, "los": True}, frozenset("ab")))
        assert api.alerts_for("a") == []
        raised = {**base, "previous_level": None, "time_s": START_S, "positions": {}, "cpa": None}
        api.on_event(Event(EventKind.ALERT_RAISED, START_S, None, raised, frozenset("ab")))
        assert [(a["alert_id"], a["status"]) for a in api.alerts_for("b")] == [(base["alert_id"], "raised")]
        view = api.acknowledge(base["alert_id"], "b")
        assert (view["status"], view["acknowledged_by"]) == ("acknowledged", ["b"])
        assert [(e.kind, e.party_id, e.payload["acknowledged_by"]) for e in kept.events] == [
            (EventKind.ALERT_ACKNOWLEDGED, "b", ["b"])
        ]
        for alert_id, party in ((base["alert_id"], "c"), ("alert-7b3e0c9a5f1d2864b0a8", "a")):
            with pytest.raises(NotFoundError):
                api.acknowledge(alert_id, party)
        resolved = {**raised, "level": "none", "level_number": 0, "previous_level": "warning"}
        api.on_event(Event(EventKind.ALERT_RESOLVED, START_S + 9, None, resolved, frozenset("ab")))
        assert api.alerts_for("a") == []
    finally:
        deployment.close()
