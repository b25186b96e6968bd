"""Detector workers of two builds never probe at once: a blue/green upgrade on the real cluster.

Two builds judging pairs of one deployment at once can disagree (a pair on a share boundary judged
by two rules, an alert raised by one left active by the other). A worker of a new build started
beside a running worker of the old one waits, as a standby of its own build, takes no share (not even
its own: the old build's workers adopt it meanwhile), and takes over once the old one is gone. The
builds are injected (``--build``, a hidden option for tests); the rule itself is ``detect_builds``,
also tested here on PostgreSQL alone (the locks each worker shows, an unstamped worker of a build
before the rule, two builds taking at once).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import pytest

pytest.importorskip("nats")
from clustersupport import servers
from test_serve_bus import Stream
from test_worker_detect import (
    ALERT_S,
    ENV,
    START_S,
    feed_clients,
    place_in,
    populate,
    post_pair,
    share_alerts_seen,
    share_lines,
    share_started,
)

from keepclear.detect.cells import CellGrid
from keepclear.services.runtime.detect_builds import UNSTAMPED, BuildGuard, build_stamp
from keepclear.services.runtime.detect_shares import shares_of_workers
from keepclear.services.runtime.leader import LockSession
from keepclear.settings import Settings
from serving import ServedProcess, keepclear_cli, log_says, serve

#: Ports shifted by this (``test_worker_detect``'s 800, the other cluster modules' 100 to 700).
PORT_OFFSET = 900
#: ``test_worker_detect``'s processes' environment, on this module's cluster.
ENV_HERE = {**ENV, "KEEPCLEAR_BUS_URL": ",".join(servers(PORT_OFFSET))}
B1, B2 = "b1b1b1b1", "b2b2b2b2"


def lines_of(log: Path, key: str) -> list[dict[str, object]]:
    """The JSON lines of a worker's log that have ``key``."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{") and f'"{key}"' in line]


def test_a_worker_of_a_new_build_waits_beside_the_old_one_and_takes_over_when_it_is_gone(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """Worker 0 of 2 of build b1 runs alone: its share and, adopted, worker 1's, where a pair is
    alerted. Worker 1 of build b2 started beside it says it waits for b1 (ready and status lines),
    and for several polls (past every adoption wait) takes no share: worker 0 hands nothing back. Worker
    0 ``kill -9``ed: worker 1 takes its own share (resolving b1's alert, raising the pair again: the
    pause is printed) and adopts worker 0's after the usual wait, waiting for nobody."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    grid = CellGrid(Settings(data_dir=data_dir).detect_cell_deg)
    lat0, lon0, cell = place_in(grid, shares_of_workers(grid.cell_count, 2)[1].cells)
    logs = {n: tmp_path / f"{n}.log" for n in ("old", "new")}

    def of_two(log: str, index: int, build: str, ready: Callable[[ServedProcess], bool]) -> ServedProcess:
        args = ("--worker-index", str(index), "--workers", "2", "--status-every-s", "0.5", "--adopt-after-s", "1")
        command = [*keepclear_cli(data_dir, postgres_url), "worker", "detect", *args, "--build", build]
        return ServedProcess(command, logs[log], env=ENV_HERE, ready=ready).start(START_S)

    with ExitStack() as stack:
        url = stack.enter_context(
            serve(data_dir, tmp_path / "serve.log", database_url=postgres_url, env=ENV_HERE).start(START_S)
        ).url
        old = stack.enter_context(of_two("old", 0, B1, lambda p: share_started(p.log, "w1of2") == 1))
        stream_b = Stream(url, keys["b"])
        stack.callback(stream_b.close)
        feeds = feed_clients(stack, url, keys)
        t0 = time.time()

        def post() -> None:
            post_pair(feeds, t0, lat0, lon0)

        def of_share(kind: str) -> list[str]:
            """The alert ids of ``kind`` on b's stream of alerts share w1of2 raised (its workers' stdout)."""
            return share_alerts_seen(list(stream_b.events), list(logs.values()), "w1of2", kind)

        def raised() -> list[str]:
            return of_share("alert.raised")

        def post_until(done: Callable[[], bool], what: str, since_s: float) -> float:
            while not done():
                assert time.monotonic() - since_s < ALERT_S, f"{what} not within {ALERT_S} s:\n" + "\n".join(
                    f"--- {n}\n{p.read_text()[-2500:]}" for n, p in logs.items() if p.exists()
                )
                post()
                time.sleep(0.5)
            return time.monotonic() - since_s

        post_until(lambda: len(raised()) >= 1, "the first alert", time.monotonic())
        new = stack.enter_context(of_two("new", 1, B2, log_says('"ready": true')))
        for _ in range(10):  # 5 s: ten polls, past every adoption wait (1 s, 2 s, 3 s)
            post()
            time.sleep(0.5)
        assert share_lines(logs["new"]) == [], "a worker of another build took a share beside a running one"
        assert [line["state"] for line in share_lines(logs["old"])] == ["started", "started"], share_lines(logs["old"])
        assert len(set(raised())) == 1, "the old build kept the pair's alert"
        ready = lines_of(logs["new"], "ready")[-1]
        assert (ready["build"], ready["waiting_for_build"], ready["shares"]) == (B2, [B1], []), ready
        status = lines_of(logs["new"], "ticks")[-1]
        assert (status["build"], status["waiting_for_build"], status["shares"]) == (B2, [B1], {}), status
        assert lines_of(logs["old"], "ticks")[-1]["waiting_for_build"] == []

        old.kill9()
        killed_s = time.monotonic()
        pause_s = post_until(lambda: len(set(raised())) >= 2, "the new build's alert", killed_s)
        first = raised()[0]
        post_until(lambda: first in of_share("alert.resolved"), "b1's alert resolved", killed_s)
        post_until(lambda: share_started(logs["new"], "w0of2") == 1, "worker 0's share adopted", killed_s)
        assert share_started(logs["new"], "w1of2") == 1
        told = [line for line in lines_of(logs["new"], "waiting") if "ticks" not in line]
        assert [(line["waiting"], line["waiting_for_build"]) for line in told] == [(True, [B1]), (False, [])], told
        assert new.proc is not None and new.proc.poll() is None
        print(json.dumps({"cell": cell, "kill_to_alert_on_stream_s": round(pause_s, 2)}))


def test_a_build_runs_shares_alone_and_an_unstamped_worker_counts_as_another_build(postgres_url: str) -> None:
    """``BuildGuard`` on PostgreSQL alone: a worker of b2 may not take while one of b1 holds ``(runs,
    b1)``, one of b1 may; b1 free again, b2 may, and the gate keeps two takers apart. A session
    named as a worker of a build before stamps (``keepclear-worker-<name>`` holding its home lock in
    this deployment) is ``unstamped``; the same in another deployment's namespace is not."""
    sessions: list[LockSession] = []

    def worker(name: str, namespace: str = postgres_url) -> LockSession:
        session = LockSession(postgres_url, namespace, application_name=f"keepclear-worker-{name}")
        sessions.append(session)
        return session

    try:
        assert len(build_stamp()) == 8 and int(build_stamp(), 16) >= 0
        b1, b1_peer, b2 = (
            BuildGuard(worker("w0of2"), B1, gate_wait_s=0.2),
            BuildGuard(worker("w1of2"), B1, gate_wait_s=0.2),
            BuildGuard(worker("w0of2-new"), B2, gate_wait_s=0.2),
        )
        assert b2.look() == []
        assert b1.open()
        assert not b2.open(), "the gate is b1's while it takes"
        b2.close()
        b1.close()
        assert not b2.open() and b2.waiting_for == [B1]
        b2.close()
        b2.settle(False)
        assert b1_peer.open() and b1_peer.waiting_for == [], "the same build takes beside its own"
        b1_peer.close()
        b1.settle(False)
        b1_peer.settle(False)
        assert b2.open() and b2.waiting_for == []
        b2.close()
        assert not b1.open(gate=False) and b1.waiting_for == [B2]
        b1.close()
        b1.settle(False)
        b2.settle(False)
        assert b2.look() == []
        old = worker("w1of2")
        assert old.lock("detect-home:w1of2").try_acquire()
        assert b2.look() == [UNSTAMPED]
        old.drop()
        elsewhere = worker("w1of2", namespace="another deployment")
        assert elsewhere.lock("detect-home:w1of2").try_acquire()
        assert b2.look() == []
    finally:
        for session in sessions:
            session.drop()
