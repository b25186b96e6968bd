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

from test_cluster_store_outage import far_apart_pair, report_pair

from scaleout import cluster, scale_out

PORT_OFFSET = 200
#: How long every node stays down: past two of the ordered consumers' 5 s heartbeats.
DOWN_S = 12.0


def test_the_topology_alerts_again_after_every_nats_node_was_killed_and_started(
    tmp_path: Path, postgres_url: str
) -> None:
    with (
        scale_out(tmp_path / "cluster", postgres_url, offset=PORT_OFFSET, api=2, workers=2) as topology,
        far_apart_pair(topology) as (_, stream_b, feeds),
    ):
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
            report_pair(feeds, converging=True)
            raised = stream_b.first("alert.raised", 3.0)
        assert raised is not None, f"no alert after the bus came back\n{topology.logs()}"
        print(
            f"bus down {back_s - killed_s:.1f} s; alert on b's stream {time.monotonic() - back_s:.1f} s after"
            " the nodes were started again"
        )
        status = cluster("status", env=topology.env)
        assert status.returncode == 0, status.stdout + status.stderr
