"""The scaled-out topology through the loss of the whole bus: ``scripts/cluster up`` (two API
processes, two detector workers, three NATS nodes), every NATS node killed with ``kill -9`` and,
past two of the ordered consumers' heartbeats, started again by ``up``.

No keepclear process is restarted: each reconnects by itself, and reports accepted afterwards reach
the workers through the track stream again (their durable consumers, and the API processes' ordered
ones, made again where the nodes lost them): a pair converging then is alerted to party b's stream.
What is published while the bus is away waits and goes once it is back
(``tests/cluster/test_nats_bus.py``).
"""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from test_cluster_e2e import make_party
from test_serve_bus import Stream

from scaleout import cluster, scale_out
from tracksupport import air_report

PORT_OFFSET = 200
#: How long every node stays down: past two of the ordered consumers' 5 s heartbeats.
DOWN_S = 12.0


def _wait_for(stream: Stream, kind: str, timeout_s: float) -> dict[str, object] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for event in list(stream.events):
            if event["kind"] == kind:
                return event
        time.sleep(0.1)
    return None


def test_the_topology_alerts_again_after_every_nats_node_was_killed_and_started(
    tmp_path: Path, postgres_url: str
) -> None:
    with scale_out(tmp_path / "cluster", postgres_url, offset=PORT_OFFSET, api=2, workers=2) as topology:
        keys = {party: make_party(topology, party) for party in ("a", "b")}
        stream_b = Stream(topology.url, keys["b"]["liaison"])
        feeds = {
            p: httpx.Client(base_url=topology.url, headers={"Authorization": f"Bearer {keys[p]['feed']}"}, timeout=30)
            for p in keys
        }
        try:
            now_s = time.time()
            for party, report in (
                ("a", air_report("a-1", 30.0, -220.0, now_s)),
                ("b", air_report("b-1", 40.0, 220.0, now_s)),
            ):
                assert feeds[party].post("/v1/tracks", json={"reports": [report]}).status_code == 202
            time.sleep(2.0)  # far apart: no alert
            assert _wait_for(stream_b, "alert.raised", 0.1) is None

            for node in ("1", "2", "3"):
                killed = cluster("kill", node, env=topology.env)
                assert killed.returncode == 0, killed.stdout + killed.stderr
            killed_s = time.monotonic()
            time.sleep(DOWN_S)
            up = cluster("up", env=topology.env, timeout_s=300)
            assert up.returncode == 0, up.stdout + up.stderr
            print(up.stdout)
            back_s = time.monotonic()

            deadline = time.monotonic() + 90
            raised = None
            while raised is None and time.monotonic() < deadline:
                # the pair converging now, again each few seconds until the workers have it
                at_s = time.time()
                for party, report in (
                    ("a", air_report("a-1", 38.0, 220.0, at_s)),
                    ("b", air_report("b-1", 38.44, -220.0, at_s)),
                ):
                    answer = feeds[party].post("/v1/tracks", json={"reports": [report]})
                    assert answer.status_code == 202, answer.text
                raised = _wait_for(stream_b, "alert.raised", 3.0)
            assert raised is not None, f"no alert after the bus came back\n{topology.logs()}"
            print(
                f"bus down {back_s - killed_s:.1f} s; alert on b's stream {time.monotonic() - back_s:.1f} s after"
                " the nodes were started again"
            )
            status = cluster("status", env=topology.env)
            assert status.returncode == 0, status.stdout + status.stderr
        finally:
            for client in feeds.values():
                client.close()
            stream_b.close()
