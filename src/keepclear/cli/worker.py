"""``keepclear worker detect``: a detector worker of a deployment that runs detection in workers."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import threading
from typing import Any, NamedTuple

import click

from keepclear.cli.context import CliContext, pass_context


@click.group()
def worker() -> None:
    """Workers of a scale-out deployment (bus_url): detector workers that probe a set of cells."""


def _cells(text: str) -> list[int]:
    cells: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        first, _, last = part.partition("-")
        try:
            lo, hi = int(first), int(last or first)
        except ValueError:
            raise click.BadParameter(f"{part!r} is not a cell number or a range a-b", param_hint="--cells") from None
        if hi < lo:
            raise click.BadParameter(f"{part!r}: the range ends before it starts", param_hint="--cells")
        cells.extend(range(lo, hi + 1))
    if not cells:
        raise click.BadParameter("give at least one cell", param_hint="--cells")
    return cells


@worker.command()
@click.option("--cells", "cells_text", default=None, help="The cells this worker owns: numbers and ranges, 12,40-44.")
@click.option("--worker-index", type=int, default=None, help="This worker's index (0-based) among --workers.")
@click.option("--workers", type=int, default=None, help="How many workers share the globe (with --worker-index).")
@click.option("--name", default=None, help="Names the durable consumer (a restart under it resumes) and alert ids.")
@click.option("--status-every-s", type=float, default=10.0, show_default=True, help="Seconds between status lines.")
@click.option(
    "--adopt/--no-adopt",
    default=True,
    show_default=True,
    help="With --workers: take over the shares of workers that are gone (PostgreSQL only).",
)
@click.option(
    "--standby",
    is_flag=True,
    help="With --workers alone: own no share, adopt those of workers that are gone (first, before the others).",
)
@click.option(
    "--shares-per-worker",
    type=click.IntRange(min=1, max=64),
    default=1,
    show_default=True,
    help="With --workers: each worker's cells as this many shares, so a dead worker's load spreads over as"
    " many adopters. Every worker and standby of the deployment must be given the same.",
)
@click.option(
    "--adopt-after-s",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Seconds a share's worker must be gone before this one takes it.",
)
@click.option(
    "--poll-s",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    help="Seconds between looks at which workers live.",
)
@click.option(
    "--build",
    default=None,
    hidden=True,
    help="For tests only: the build stamp this worker tells (8 hex digits) instead of its own.",
)
@pass_context
def detect(
    ctx: CliContext,
    cells_text: str | None,
    worker_index: int | None,
    workers: int | None,
    name: str | None,
    status_every_s: float,
    adopt: bool,
    adopt_after_s: float,
    poll_s: float,
    standby: bool,
    shares_per_worker: int,
    build: str | None,
) -> None:
    """Probe a set of geographic cells: consume their reports from the bus, raise their alerts on it.

    The cells are given (--cells), or this worker's shares of --workers (--worker-index): then the
    shares of workers that are gone are taken over while they are away (--standby: own none, only
    take over). Every alert event is printed as one JSON line on stdout, and a status line on stderr
    every --status-every-s.
    Runs until interrupted (SIGINT or SIGTERM stop it cleanly).
    """
    from keepclear.errors import KeepclearError
    from keepclear.services.runtime.deployment import Deployment

    if standby:
        if cells_text is not None or worker_index is not None or workers is None:
            raise click.UsageError("--standby goes with --workers alone (a standby owns no share, it adopts)")
        if not adopt:
            raise click.UsageError("--standby only adopts: it cannot go with --no-adopt")
    elif (cells_text is None) == (worker_index is None and workers is None):
        raise click.UsageError("give either --cells or --worker-index with --workers")
    elif cells_text is None and (worker_index is None or workers is None):
        raise click.UsageError("--worker-index and --workers go together")
    if workers is not None and workers < 1:
        raise click.BadParameter(f"{workers} is not a number of workers (at least 1)", param_hint="--workers")
    if worker_index is not None and workers is not None:
        if not (workers >= 1 and 0 <= worker_index < workers):
            raise click.BadParameter(f"{worker_index} is not in 0..{workers - 1}", param_hint="--worker-index")
        if name is not None:
            raise click.UsageError("--name goes with --cells: a worker of --workers is named w<index>of<workers>")
    if build is not None:
        from keepclear.services.runtime.detect_builds import build_problem

        if build_problem(build):
            raise click.BadParameter(str(build_problem(build)), param_hint="--build")
    if shares_per_worker != 1 and workers is None:
        raise click.UsageError("--shares-per-worker goes with --workers")
    cells = None if cells_text is None else _cells(cells_text)
    settings = ctx.settings
    if not settings.bus_url:
        raise click.UsageError("bus_url: a detector worker needs the NATS bus (KEEPCLEAR_BUS_URL or the settings file)")
    try:
        deployment = Deployment.open(settings)
    except (KeepclearError, ConnectionError) as exc:  # no store, or NATS does not answer
        raise click.ClickException(str(exc)) from None
    try:
        plan = _Plan(cells, worker_index, workers, shares_per_worker, name, standby, adopt)
        _run(deployment, plan, status_every_s, adopt_after_s, poll_s, build)
    except (KeepclearError, ConnectionError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        deployment.close()


class _Plan(NamedTuple):
    """Which cells a worker runs, as the options gave them."""

    cells: list[int] | None
    worker_index: int | None
    workers: int | None
    shares_per_worker: int
    name: str | None
    standby: bool
    adopt: bool


def _run(
    deployment: Any, plan: _Plan, status_every_s: float, adopt_after_s: float, poll_s: float, build: str | None
) -> None:
    import numpy as np

    from keepclear.services.runtime.detect_shares import Share, shares_of_workers, worker_of
    from keepclear.services.runtime.detect_worker import DetectWorker
    from keepclear.services.runtime.runtime import RuntimeConfig
    from keepclear.services.tactical.service import cell_plan

    config = RuntimeConfig.from_settings(deployment.settings)
    count = cell_plan(config.tactical, deployment.settings.detect_cell_deg).grid.cell_count
    shares = [] if plan.workers is None else shares_of_workers(count, plan.workers, plan.shares_per_worker)
    if plan.standby:
        name = plan.name or f"standby-{hashlib.blake2b(os.urandom(8), digest_size=3).hexdigest()}"
        home, others = [], shares
    elif plan.cells is not None:
        given = sorted(set(plan.cells))
        name = plan.name or "cells-" + hashlib.blake2b(",".join(map(str, given)).encode(), digest_size=4).hexdigest()
        home, others = [Share(name, np.asarray(given, dtype=np.int64), name)], []
    else:
        assert plan.worker_index is not None and plan.workers is not None
        name = worker_of(plan.worker_index, plan.workers)
        home = [s for s in shares if s.worker == name]
        # The others' shares: taken over while their worker is gone (``detect_share_keeper``'s docstring).
        others = [s for s in shares if s.worker != name] if plan.adopt else []
    detector = DetectWorker(
        deployment, name, config, home=home, others=others, adopt_after_s=adopt_after_s, poll_s=poll_s, build=build
    )

    def echo_alerts(events: list[Any]) -> None:
        for event in events:
            line = {
                "kind": str(event.kind),
                "id": event.id,
                **{k: event.payload.get(k) for k in ("alert_id", "unit_a", "unit_b", "level")},
                # the share and run that raised it: for the operator (a party's copy never says)
                "emitted_by": event.emitted_by,
            }
            click.echo(json.dumps(line), nl=True)

    detector.on_alerts(echo_alerts)
    detector.on_shares(lambda line: click.echo(json.dumps(line), err=True))
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    detector.start()
    click.echo(
        json.dumps(
            {
                "worker": detector.name,
                "cells": detector.cells.tolist(),
                "view_cells": len(detector.view_cells),
                "tick_s": config.tick_s,
                "earlier_alerts_resolved": detector.retired,
                "shares": detector.shares,
                "adopts": [share.name for share in detector.others],
                "build": detector.build,
                # other builds' workers run shares: this one waits until they stop (docs/deploy.md)
                "waiting_for_build": detector.status()["waiting_for_build"],
                "ready": True,
            }
        ),
        err=True,
    )

    def report() -> None:
        while not stop.wait(status_every_s):
            click.echo(json.dumps({"worker": detector.name, **detector.status()}), err=True)

    threading.Thread(target=report, name="keepclear-worker-status", daemon=True).start()
    try:
        detector.run(stop)
    finally:
        detector.close()


@worker.command()
def build() -> None:
    """Print this install's detector build (one JSON line): workers of two builds never probe at once,
    so a new build's workers started beside the running ones wait for them to stop (docs/deploy.md,
    "Upgrading detector workers"); the same build is restarted in place."""
    from keepclear import __version__
    from keepclear.services.runtime.detect_builds import build_stamp

    click.echo(json.dumps({"build": build_stamp(), "version": __version__}))
