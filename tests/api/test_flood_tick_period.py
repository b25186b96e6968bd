"""Issue 15 item 3: under a flood of track reports the probe keeps its period and feeds get 429.

A real `keepclear serve` in its own process (as in production) on each store; several feeds post
5,000-report batches as fast as they are answered for about 12 s while the test reads the tick's
timing from /v1/metrics. The tick must hold its period (no gap much longer than one period, few
late ticks) and back-pressure must come as 429 with Retry-After, an RFC 9457 problem.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from keepclear.api.server import free_port
from keepclear.domain import Domain, Force, Party
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store.schema import units as units_table
from serving import ServedProcess

TICK_S = 0.5
UNITS = 4000
BATCH = 5000
REPEATS = 5
CLIENTS = 4
FLOOD_S = 12.0
NOW = "2000-01-01T00:00:00.000Z"  # replaced by the send time in each body


def _populate(settings: Settings) -> dict[str, str]:
    dep = Deployment.open(settings, create=True)
    try:
        for party in ("a", "b"):
            dep.registry.add_party(Party(party, party.upper()))
            dep.registry.add_force(Force(f"f{party}", f"Force {party}", party))
        with dep.db.write() as conn:  # bulk: the registry path emits an event per unit, not needed here
            conn.execute(
                units_table.insert(),
                [
                    {
                        "id": f"u{i}",
                        "callsign": f"U{i}",
                        "domain": Domain.AIR.value,
                        "kind": "jet",
                        "force_id": f"f{'ab'[i % 2]}",
                    }
                    for i in range(UNITS)
                ],
            )
        return {
            "a": dep.keys.create(Role.FEED, "a")[1],
            "b": dep.keys.create(Role.FEED, "b")[1],
            "admin": dep.keys.create(Role.ADMIN, None)[1],
        }
    finally:
        dep.close()


def _bodies(party: str) -> list[bytes]:
    """Column batches of ``party``'s units over a 20-degree square (a few encounters, mostly not),
    each unit ``REPEATS`` times per batch: every report is valid, but such batches cost the pump
    several times more per report than one report per unit, so the pump falls behind the feeds."""
    rng = np.random.default_rng(7)
    lat, lon = rng.uniform(30, 50, UNITS), rng.uniform(20, 40, UNITS)
    ids = list(range("ab".index(party), UNITS, 2))
    bodies = []
    for k in range(0, len(ids), BATCH // REPEATS):
        chunk = ids[k : k + BATCH // REPEATS] * REPEATS
        columns = {
            "unit_id": [f"u{i}" for i in chunk],
            "time": [NOW] * len(chunk),
            "lat_deg": [float(lat[i]) for i in chunk],
            "lon_deg": [float(lon[i]) for i in chunk],
            "alt_m": [9000.0] * len(chunk),
            "vel_east_mps": [200.0] * len(chunk),
            "vel_north_mps": [0.0] * len(chunk),
        }
        bodies.append(json.dumps({"columns": columns}).encode())
    return bodies


def test_item3_flood_keeps_the_tick_period_and_answers_429(tmp_path: Path, database_url: str) -> None:
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url)
    keys = _populate(settings)
    port = free_port()
    env = {
        "KEEPCLEAR_DATABASE_URL": database_url,
        "KEEPCLEAR_TICK_S": str(TICK_S),
        # A small backlog: the pump's measured rate, not the queue's length, must be what refuses.
        "KEEPCLEAR_INGEST_BACKLOG_S": "0.005",
    }
    command = [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(tmp_path / "data"), "serve"]
    server = ServedProcess(
        [*command, "--port", str(port)], tmp_path / "server.log", env=env, port=port, discard_stdout=True
    )
    base = server.url
    statuses: dict[int, int] = {}
    problems: list[tuple[str, dict[str, object]]] = []
    stop = threading.Event()

    def feed(k: int) -> None:
        party = "ab"[k % 2]
        bodies = _bodies(party)
        headers = {"Authorization": f"Bearer {keys[party]}", "content-type": "application/json"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
            j = k
            while not stop.is_set():
                body = bodies[j % len(bodies)].replace(NOW.encode(), format_utc(time.time()).encode())
                j += 1
                response = http.post("/v1/tracks", content=body)
                statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
                if response.status_code == 429:
                    if len(problems) < 3:
                        problems.append((response.headers.get("retry-after", ""), response.json()))
                    stop.wait(min(float(response.headers.get("retry-after", "1")), 1.0))

    try:
        server.start(180)  # a first start may compile the probe on a busy machine
        admin = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {keys['admin']}"}, timeout=60)
        time.sleep(3 * TICK_S)  # a few quiet ticks first
        before = admin.get("/v1/metrics").json()
        feeds = [threading.Thread(target=feed, args=(k,)) for k in range(CLIENTS)]
        started = time.monotonic()
        for thread in feeds:
            thread.start()
        gaps_s: list[float] = []
        while time.monotonic() - started < FLOOD_S:
            time.sleep(1.0)
            gaps_s.append(float(admin.get("/v1/metrics").json()["counters"]["tick_interval_max_s"]))
        stop.set()
        for thread in feeds:
            thread.join()
        elapsed_s = time.monotonic() - started
        after = admin.get("/v1/metrics").json()
        admin.close()
    finally:
        stop.set()
        server.stop(wait_s=120)

    ticks = after["ticks"] - before["ticks"]
    late = after["counters"]["tick_late_total"] - before["counters"]["tick_late_total"]
    accepted = after["ingest_accepted_total"] - before["ingest_accepted_total"]
    summary = (
        f"{ticks} ticks in {elapsed_s:.1f} s, {late} late, gaps {gaps_s}, statuses {statuses}, accepted {accepted},"
        f" refused {json.dumps({k: v for k, v in after['counters'].items() if 'refused' in k})}"
    )
    print(summary)
    assert statuses.get(202, 0) > 0 and accepted > 0, summary
    # Back-pressure came, as a problem with a retry delay; nothing but 202 and 429 was answered.
    assert statuses.get(429, 0) > 0, summary
    assert set(statuses) <= {202, 429}, summary
    retry_after, problem = problems[0]
    assert (
        int(retry_after) >= 1
        and problem["status"] == 429
        and "nothing of this batch was kept" in str(problem["detail"])
    )
    assert after["counters"]["ingest_batches_refused_backlog_total"] > 0, summary
    # The period held: about one tick per period, no gap near what the backlog would have cost.
    assert ticks >= 0.8 * elapsed_s / TICK_S, summary
    assert max(gaps_s) <= 3 * TICK_S, summary
    assert late <= 0.1 * ticks, summary
