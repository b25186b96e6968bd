"""``scripts/cluster up``'s whole topology as a client and an operator see it (``scale_out_cluster``).

A report accepted by one API process is in the picture of every other: fresh connections to the one
address land on either process (SO_REUSEPORT), and each answers ``/v1/tracks`` with it. The drill
commands: ``kill api 1`` and ``kill worker 2`` stop exactly those (``status`` says so, the other API
process still answers), and ``up`` starts only them again.
"""

from __future__ import annotations

import re
import time

import httpx
from test_serve_bus import Stream

from keepclear.domain.timefmt import format_utc
from scaleout import ScaleOut, cluster


def make_party(topology: ScaleOut, party: str) -> dict[str, str]:
    """``party`` with a force and an aircraft ``<party>-1``, and a feed and a liaison key, through the API."""
    keys = {}
    with httpx.Client(base_url=topology.url, headers={"Authorization": f"Bearer {topology.admin_key}"}) as admin:
        made = [
            admin.post("/v1/parties", json={"id": party, "name": party.upper(), "roster": [{"name": "duty"}]}),
            admin.post("/v1/forces", json={"id": f"{party}-air", "name": "air", "party_id": party}),
            admin.post(
                "/v1/units",
                json={"id": f"{party}-1", "callsign": party.upper(), "domain": "air", "force_id": f"{party}-air"},
            ),
        ]
        for role in ("feed", "liaison"):
            made.append(admin.post("/v1/keys", json={"role": role, "party_id": party}))
            keys[role] = made[-1].json().get("key", "")
    assert all(r.status_code == 201 for r in made), [r.text for r in made if r.status_code != 201]
    return keys


def test_a_report_accepted_by_one_api_process_is_in_every_process_picture(scale_out_cluster: ScaleOut) -> None:
    topology = scale_out_cluster
    keys = make_party(topology, "pic")
    report = {"unit_id": "pic-1", "time": format_utc(time.time()), "lat_deg": 10.0, "lon_deg": 10.0, "alt_m": 5000.0}
    with httpx.Client(base_url=topology.url, headers={"Authorization": f"Bearer {keys['feed']}"}) as feed:
        accepted = feed.post("/v1/tracks", json={"reports": [report]})
    assert accepted.status_code == 202, accepted.text
    seen: dict[int, bool] = {}
    deadline = time.monotonic() + 20
    while not (len(seen) >= 2 and all(seen.values())):
        assert time.monotonic() < deadline, f"process -> has the unit: {seen}\n{topology.logs()}"
        # a fresh connection each time: the kernel spreads them over the processes on the port
        with httpx.Client(base_url=topology.url, timeout=10) as client:
            metrics = client.get("/v1/metrics", headers={"Authorization": f"Bearer {topology.admin_key}"}).json()
            tracks = client.get("/v1/tracks", headers={"Authorization": f"Bearer {keys['liaison']}"}).json()
        seen[metrics["process_id"]] = [t["unit_id"] for t in tracks] == ["pic-1"]
        time.sleep(0.05)
    print({"processes_with_the_unit": sorted(seen)})


def test_kill_api_and_worker_then_up_starts_only_them_again(scale_out_cluster: ScaleOut) -> None:
    env = scale_out_cluster.env
    for what in (("api", "1"), ("worker", "2")):
        killed = cluster("kill", *what, env=env)
        assert killed.returncode == 0 and f"killed {''.join(what)}" in killed.stdout, killed.stdout + killed.stderr
    status = cluster("status", env=env)
    assert status.returncode == 1, status.stdout
    stopped = sorted(line.split()[0] for line in status.stdout.splitlines() if line.endswith("stopped"))
    assert stopped == ["api1", "worker2"], status.stdout
    assert re.search(r"^api2 .* pid \d+$", status.stdout, re.M), status.stdout
    assert re.search(r"^api .* health: ok", status.stdout, re.M), status.stdout  # the other process answers
    t0 = time.monotonic()
    up = cluster("up", env=env, timeout_s=300)
    assert up.returncode == 0, up.stdout + up.stderr
    assert "(api1, worker2 started" in up.stdout and "NATS up (nothing started)" in up.stdout, up.stdout
    print({"up_after_kill_s": round(time.monotonic() - t0, 1)})
    status = cluster("status", env=env)
    assert status.returncode == 0 and "stopped" not in status.stdout, status.stdout
    assert len(re.findall(r"^(n\d|api\d|worker\d) .* pid \d+", status.stdout, re.M)) == 3 + 2 + 2, status.stdout


def test_a_zone_entry_is_told_once_though_every_api_process_watches(scale_out_cluster: ScaleOut) -> None:
    """Both API processes have the unit's reports and keep their zone watch current; only the leader of
    ``zone-events`` emits, so the party's stream (on either process) gets one ``zone.entered``, not one
    per process."""
    topology = scale_out_cluster
    keys = make_party(topology, "zon")
    square = [[[20.0, 20.0], [20.1, 20.0], [20.1, 20.1], [20.0, 20.1], [20.0, 20.0]]]
    zone = {
        "type": "Feature",
        "id": "zon-square",
        "geometry": {"type": "Polygon", "coordinates": square},
        "properties": {"kind": "de-escalation-zone", "name": "Square", "lower_ft": 0, "upper_ft": 60000,
                       "valid_from": "2020-01-01T00:00:00Z", "permitted_parties": []},
    }  # fmt: skip
    admin = httpx.Client(base_url=topology.url, headers={"Authorization": f"Bearer {topology.admin_key}"}, timeout=30)
    feed = httpx.Client(base_url=topology.url, headers={"Authorization": f"Bearer {keys['feed']}"}, timeout=30)
    stream = Stream(topology.url, keys["liaison"])
    try:
        with admin, feed:
            imported = admin.post("/v1/zones", json={"type": "FeatureCollection", "features": [zone]})
            assert imported.status_code == 201, imported.text
            time.sleep(1.0)  # the other process reloads its zones when the import's event reaches it
            for lat_deg in (20.3, 20.2, 20.05, 20.05, 20.05, 20.05):
                report = {"unit_id": "zon-1", "time": format_utc(time.time()), "lat_deg": lat_deg, "lon_deg": 20.05,
                          "alt_m": 5000.0}  # fmt: skip
                assert feed.post("/v1/tracks", json={"reports": [report]}).status_code == 202
                time.sleep(1.0)

        def entered() -> list[dict[str, object]]:
            return [e for e in list(stream.events) if e.get("kind") == "zone.entered" and "zon-1" in str(e)]

        deadline = time.monotonic() + 15
        while not entered():
            assert time.monotonic() < deadline, f"{[e.get('kind') for e in stream.events]}\n{topology.logs()}"
            time.sleep(0.2)
        time.sleep(3.0)  # another process's entry would have come through the bus by now
        assert len(entered()) == 1, entered()
    finally:
        stream.close()
