"""``scripts/cluster``: a real 3-node JetStream cluster keeps an R3 stream through the loss of a node.

The drill: ``up``; publish to a stream replicated on all three nodes; ``kill -9`` the node that leads
the stream; publish more (the pause until the first acknowledgement is printed); read every message
back, each once and in order; ``up`` brings the node back and it catches up; ``down``. Publishes
carry a message id, so a publish retried across the failover is stored once.
"""

from __future__ import annotations

import asyncio
import json
import time

import pytest

nats = pytest.importorskip("nats")
from clustersupport import cluster, servers  # noqa: E402
from nats.js.client import JetStreamContext  # noqa: E402

from keepclear.services.runtime.jetstream import until_answered  # noqa: E402

#: Ports shifted by this, so a developer's own ``scripts/cluster up`` (4231-4233) keeps running.
PORT_OFFSET = 100
SERVERS = servers(PORT_OFFSET)
#: The whole drill must finish within this (the brief: bounded, < 60 s).
DRILL_S = 50.0


async def publish_retrying(js: JetStreamContext, subject: str, payload: bytes, msg_id: str, deadline: float) -> None:
    """Publish until acknowledged (a leader election answers nothing or 'no responders' meanwhile)."""
    await until_answered(lambda: js.publish(subject, payload, timeout=1.0, headers={"Nats-Msg-Id": msg_id}), deadline)


async def drill(env: dict[str, str]) -> dict[str, float]:
    deadline = time.monotonic() + DRILL_S
    nc = await nats.connect(servers=SERVERS, max_reconnect_attempts=-1, reconnect_time_wait=0.2)
    js = nc.jetstream(timeout=2.0)
    info = await js.add_stream(name="DRILL", subjects=["drill.>"], num_replicas=3)
    assert info.config.num_replicas == 3
    for k in range(50):
        await publish_retrying(js, "drill.before", f"{k}".encode(), f"m{k}", deadline)
    leader = (await js.stream_info("DRILL")).cluster.leader
    assert leader in ("n1", "n2", "n3")
    killed = cluster("kill", leader.removeprefix("n"), env=env)
    assert killed.returncode == 0, killed.stderr
    t_kill = time.monotonic()
    # Resend the last one before the kill (a client unsure of its ack does that): stored once.
    await publish_retrying(js, "drill.before", b"49", "m49", deadline)
    pause_s = time.monotonic() - t_kill
    for k in range(50, 100):
        await publish_retrying(js, "drill.after", f"{k}".encode(), f"m{k}", deadline)
    info = await js.stream_info("DRILL")
    assert info.cluster.leader != leader
    assert info.state.messages == 100 and info.state.last_seq == 100
    payloads = [int((await js.get_msg("DRILL", seq)).data) for seq in range(1, 101)]
    assert payloads == list(range(100))

    restarted = cluster("up", "--no-keepclear", env=env)
    assert restarted.returncode == 0, restarted.stdout + restarted.stderr
    t_up = time.monotonic()
    while True:
        replicas = (await js.stream_info("DRILL")).cluster.replicas or []
        back = [r for r in replicas if r.name == leader]
        if back and back[0].current and not back[0].offline and (back[0].lag or 0) == 0:
            break
        assert time.monotonic() < deadline, f"{leader} did not catch up: {replicas}"
        await asyncio.sleep(0.1)
    catch_up_s = time.monotonic() - t_up
    status = cluster("status", env=env)
    assert status.returncode == 0, status.stdout
    assert status.stdout.count(" pid ") == 3 and "stopped" not in status.stdout, status.stdout
    await nc.close()
    return {"pause_s": pause_s, "catch_up_s": catch_up_s}


def test_r3_stream_survives_kill_9_of_its_leader_and_the_node_catches_up(running_cluster: dict[str, str]) -> None:
    t0 = time.monotonic()
    figures = asyncio.run(asyncio.wait_for(drill(running_cluster), DRILL_S))
    print(json.dumps({**figures, "drill_s": round(time.monotonic() - t0, 2)}))
    assert time.monotonic() - t0 < DRILL_S
