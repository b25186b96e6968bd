"""The scaled-out topology through a store outage: ``scripts/cluster up`` (two API processes, two
detector workers, three NATS nodes) on a PostgreSQL server of the test's own, stopped and started.

While PostgreSQL is away every lock session ends and nobody can take a lock: each worker goes on
probing its share, so a pair that converges only then is still alerted to both parties' streams
through the bus; when PostgreSQL is back each worker takes its locks back, writes go through again
and the alert raised meanwhile reaches the record.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from test_cluster_e2e import make_party
from test_serve_bus import Stream

from pgserver import PostgresServer
from scaleout import ScaleOut, cluster, scale_out
from tracksupport import air_report

PORT_OFFSET = 700


def report_pair(feeds: dict[str, httpx.Client], *, converging: bool, at_s: float | None = None) -> None:
    """Report a-1 and b-1 through their parties' feeds at ``at_s`` (now): far apart, or converging
    head-on 0.44° apart at 220 m/s (alerted at once)."""
    at_s = time.time() if at_s is None else at_s
    reports = (
        (air_report("a-1", 38.0, 220.0, at_s), air_report("b-1", 38.44, -220.0, at_s))
        if converging
        else (air_report("a-1", 30.0, -220.0, at_s), air_report("b-1", 40.0, 220.0, at_s))
    )
    for party, report in zip(("a", "b"), reports, strict=True):
        answer = feeds[party].post("/v1/tracks", json={"reports": [report]})
        assert answer.status_code == 202, answer.text


@contextmanager
def far_apart_pair(topology: ScaleOut) -> Iterator[tuple[dict[str, dict[str, str]], Stream, dict[str, httpx.Client]]]:
    """Parties a and b on ``topology``, each an aircraft reported far apart (no alert yet): their
    keys, party b's stream and one feed connection each (used before any outage: each API process
    knows the keys it served)."""
    keys = {party: make_party(topology, party) for party in ("a", "b")}
    stream_b = Stream(topology.url, keys["b"]["liaison"])
    feeds = {
        p: httpx.Client(base_url=topology.url, headers={"Authorization": f"Bearer {keys[p]['feed']}"}, timeout=30)
        for p in keys
    }
    try:
        report_pair(feeds, converging=False)
        time.sleep(2.0)  # the workers have both in their pictures, far apart: no alert
        assert stream_b.first("alert.raised", 0.1) is None
        yield keys, stream_b, feeds
    finally:
        for client in feeds.values():
            client.close()
        stream_b.close()


def test_the_topology_keeps_alerting_through_a_store_outage(tmp_path: Path, own_postgres: PostgresServer) -> None:
    with (
        scale_out(tmp_path / "cluster", own_postgres.url, offset=PORT_OFFSET, api=2, workers=2) as topology,
        far_apart_pair(topology) as (keys, stream_b, feeds),
    ):
        own_postgres.stop()
        stopped_s = time.monotonic()
        time.sleep(1.5)  # every lock session has seen it by now

        report_pair(feeds, converging=True)
        raised = stream_b.first("alert.raised", 20.0)
        assert raised is not None, f"no alert during the outage\n{topology.logs()}"
        print(f"alert on b's stream {time.monotonic() - stopped_s:.1f} s after PostgreSQL stopped")
        alert_id = raised["payload"]["alert_id"]  # type: ignore[index]

        own_postgres.start()
        restarted_s = time.monotonic()

        def recorded() -> bool:
            with httpx.Client(
                base_url=topology.url, headers={"Authorization": f"Bearer {keys['b']['liaison']}"}, timeout=30
            ) as liaison:
                try:
                    answer = liaison.get("/v1/record/export")
                except httpx.TimeoutException:
                    return False  # a loaded machine: asked again
            if answer.status_code != 200:
                return False
            return any(
                "statement" in e and e["statement"]["kind"] == "alert.raised" and alert_id in json.dumps(e)
                for e in answer.json()["entries"]
            )

        deadline = time.monotonic() + 60
        while not recorded() and time.monotonic() < deadline:
            time.sleep(0.5)
        assert recorded(), f"the alert raised during the outage is not in the record\n{topology.logs()}"
        print(f"the alert in the record {time.monotonic() - restarted_s:.1f} s after PostgreSQL started")
        status = cluster("status", env=topology.env)
        assert status.returncode == 0, status.stdout + status.stderr
