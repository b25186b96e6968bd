"""``keepclear worker detect`` for real: a ``serve`` process and two workers on the JetStream cluster and PostgreSQL.

The serve process runs with ``detect_in_workers``: it probes no pair and publishes the reports it
accepts by cell. Two workers own the two cells either side of the 40th parallel. Two aircraft of
parties a and b converge across that boundary: exactly one alert is raised, by the worker of the
lower cell (the pair's owner; the other worker sees both units through its halo and leaves it), and
it reaches party b's ``/v1/stream`` on the serve process and the record once, and opens one
incident (the loss of separation). Party b acknowledges it through the serve process: the record
has the acknowledgement and the worker marks it in its book. The time from the first report to the alert on the stream is printed.
Every alert id a party sees is ``alert-`` and 20 hex digits, as an embedded probe's: which share and
run raised it only the workers know (their run mark, a bus header; here read from their stdout).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import re
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path

import httpx
import numpy as np
import pytest

nats = pytest.importorskip("nats")
from clustersupport import servers  # noqa: E402
from test_serve_bus import Stream  # noqa: E402

from keepclear.detect.cells import CellGrid  # noqa: E402
from keepclear.domain import Domain, Force, Party, Unit  # noqa: E402
from keepclear.domain.identity import Role  # noqa: E402
from keepclear.domain.parties import Contact  # noqa: E402
from keepclear.domain.timefmt import format_utc  # noqa: E402
from keepclear.services.runtime.deployment import Deployment  # noqa: E402
from keepclear.services.runtime.detect_shares import shares_of_workers  # noqa: E402
from keepclear.services.runtime.jetstream import until_answered  # noqa: E402
from keepclear.services.runtime.nats_tracks import TRACK_STREAM  # noqa: E402
from keepclear.settings import Settings  # noqa: E402
from serving import ServedProcess, keepclear_cli, log_says, serve  # noqa: E402

#: Ports shifted by this (the other cluster modules use 100, 300, 400; scripts/cluster's own test 500).
PORT_OFFSET = 800
#: Longest a process may take to start (the probe's kernels compile on a cold cache), and the
#: longest from the first report to the alert on the stream.
START_S = 120.0
ALERT_S = 30.0
#: Aircraft a starts 0.03° south of 40° N heading north, b 0.03° north heading south, 35° E, 7,000 m:
#: 6.7 km apart (under 5 NM: separation is lost from the first report) closing at 120 m/s, each in
#: its own cell for ~55 s.
SPEED_MPS = 60.0
LAT_A, LAT_B, LON = 39.97, 40.03, 35.0
#: What every process here runs with: the cluster's bus, detection in workers, a 0.5 s tick.
ENV = {
    "KEEPCLEAR_BUS_URL": ",".join(servers(PORT_OFFSET)),
    "KEEPCLEAR_DETECT_IN_WORKERS": "true",
    "KEEPCLEAR_TICK_S": "0.5",
}
#: A worker is ready when it says so on stdout.
WORKER_READY = log_says('"ready": true')


def populate(data_dir: Path, database_url: str) -> dict[str, str]:
    """Parties a and b with an aircraft each (ua, ub), a liaison and a feed key each (made without a bus)."""
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=database_url), create=True)
    try:
        keys = {}
        for party in ("a", "b"):
            dep.registry.add_party(Party(party, party.upper()), [Contact(f"{party} duty officer")])
            dep.registry.add_force(Force(f"f{party}", f"{party} air", party))
            dep.registry.add_unit(Unit(f"u{party}", f"{party.upper()}1", Domain.AIR, "fighter", f"f{party}"))
            keys[party] = dep.keys.create(Role.LIAISON, party, f"{party} liaison")[1]
            keys[f"{party}-feed"] = dep.keys.create(Role.FEED, party, f"{party} feed")[1]
        return keys
    finally:
        dep.close()


def api(data_dir: Path, database_url: str, log: Path) -> ServedProcess:
    """``keepclear serve`` on a free port with ``ENV``, started (stopped with its block)."""
    return serve(data_dir, log, database_url=database_url, env=ENV).start(START_S)


def worker(
    data_dir: Path, database_url: str, log: Path, *args: str, ready: Callable[[ServedProcess], bool] = WORKER_READY
) -> ServedProcess:
    """``keepclear worker detect`` with ``args`` and ``ENV``, started (stopped with its block)."""
    command = [*keepclear_cli(data_dir, database_url), "worker", "detect", *args]
    return ServedProcess(command, log, env=ENV, ready=ready).start(START_S)


def feed_clients(stack: ExitStack, url: str, keys: dict[str, str]) -> dict[str, httpx.Client]:
    """A client with the feed key of party a and of party b, closed with ``stack``."""
    return {
        p: stack.enter_context(
            httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[f'{p}-feed']}"}, timeout=10)
        )
        for p in ("a", "b")
    }


def report(
    unit: str, lat0: float, north_mps: float, t0: float, now: float, *, lon0: float = LON, east_mps: float = 0.0
) -> dict[str, object]:
    return {
        "unit_id": unit,
        "time": format_utc(now),
        "lat_deg": lat0 + north_mps * (now - t0) / 111_000,
        "lon_deg": lon0 + east_mps * (now - t0) / (111_000 * float(np.cos(np.radians(lat0)))),
        "alt_m": 7_000.0,
        "vel_north_mps": north_mps,
        "vel_east_mps": east_mps,
    }


def post_pair(feeds: dict[str, httpx.Client], t0: float, lat0: float, lon0: float) -> None:
    """One report each of the converging pair: a's ``ua`` and b's ``ub`` 0.03° north of it, both
    flying east at 200 m/s from ``lon0`` since ``t0``; each accepted (202, one report)."""
    now = time.time()
    for p, unit, lat in (("a", "ua", lat0), ("b", "ub", lat0 + 0.03)):
        body = {"reports": [report(unit, lat, 0.0, t0, now, lon0=lon0, east_mps=200.0)]}
        answer = feeds[p].post("/v1/tracks", json=body)
        assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text


def alert_id_of(event: dict[str, object]) -> str:
    """The alert id of an alert event read from ``/v1/stream``."""
    payload = event["payload"]
    assert isinstance(payload, dict)
    return str(payload["alert_id"])


def alert_lines(log: Path) -> list[dict[str, object]]:
    """The alert events a worker printed (one JSON object a line on stdout)."""
    return [json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"kind": "alert.')]


#: Every alert id a party sees: an embedded probe's shape, nothing of a worker, share or run.
ALERT_ID = re.compile(r"^alert-[0-9a-f]{20}$")


def raised_by_share(logs: list[Path], share: str) -> dict[str, str]:
    """The alerts the workers of ``logs`` say ``share`` raised (their stdout: the operator's, never a
    party's), each with the run mark it carries (``<share>/<run>``)."""
    out = {}
    for log in logs:
        for line in alert_lines(log) if log.exists() else []:
            mark = str(line["emitted_by"])
            if line["kind"] == "alert.raised" and mark.startswith(f"{share}/"):
                out[str(line["alert_id"])] = mark
    return out


def share_alerts_seen(events: list[dict[str, object]], logs: list[Path], share: str, kind: str) -> list[str]:
    """The alert ids of ``kind`` among a party's stream ``events`` that ``share`` raised (by its
    workers' stdout, ``raised_by_share``)."""
    mine = raised_by_share(logs, share)
    return [alert_id_of(e) for e in events if e.get("kind") == kind and alert_id_of(e) in mine]


def assert_tells_nothing_of_workers(alert_id: str, seen: str, *words: str) -> None:
    """``alert_id`` has the embedded shape, and ``seen`` (what a party was shown) names none of ``words``
    (workers, shares, run marks)."""
    assert ALERT_ID.match(alert_id), alert_id
    for word in words:
        assert word not in seen, (word, seen[:2000])


def test_a_boundary_pair_is_alerted_once_by_its_owner_and_reaches_the_other_party(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    grid = CellGrid(Settings(data_dir=data_dir).detect_cell_deg)
    south, north = (int(c) for c in grid.cell_of(np.array([LAT_A, LAT_B]), np.array([LON, LON])))
    assert south < north
    logs = {name: tmp_path / f"{name}.log" for name in ("serve", "south", "north")}
    with ExitStack() as stack:
        url = stack.enter_context(api(data_dir, postgres_url, logs["serve"])).url
        for name, cell in (("south", south), ("north", north)):
            args = ("--cells", str(cell), "--name", name, "--status-every-s", "2")
            stack.enter_context(worker(data_dir, postgres_url, logs[name], *args))
        stream_b = Stream(url, keys["b"])
        stack.callback(stream_b.close)
        feeds = feed_clients(stack, url, keys)

        def raised() -> list[dict[str, object]]:
            return [
                e
                for e in list(stream_b.events)
                if e.get("kind") == "alert.raised" and '"ua"' in json.dumps(e) and '"ub"' in json.dumps(e)
            ]

        t0 = time.time()
        first_alert_s = None
        while time.time() - t0 < ALERT_S + 4:
            now = time.time()
            for p, unit, lat0, north_mps in (("a", "ua", LAT_A, SPEED_MPS), ("b", "ub", LAT_B, -SPEED_MPS)):
                answer = feeds[p].post("/v1/tracks", json={"reports": [report(unit, lat0, north_mps, t0, now)]})
                assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text
            if first_alert_s is None and raised():
                first_alert_s = time.time() - t0
            if first_alert_s is not None and time.time() - t0 > first_alert_s + 4:
                break  # a few more ticks: a second alert would show by now
            assert first_alert_s is not None or time.time() - t0 < ALERT_S, (
                f"no alert on b's stream within {ALERT_S} s: {[e.get('kind') for e in stream_b.events]}\n"
                + "\n".join(f"--- {n}\n{p.read_text()[-3000:]}" for n, p in logs.items())
            )
            time.sleep(0.5)
        alerts = raised()
        assert len(alerts) == 1, alerts
        alert_id = alert_id_of(alerts[0])
        assert_tells_nothing_of_workers(alert_id, json.dumps(list(stream_b.events)), "south")
        found_south = [line for line in alert_lines(logs["south"]) if line["kind"] == "alert.raised"]
        assert [line["alert_id"] for line in found_south] == [alert_id]
        mark = str(found_south[0]["emitted_by"])
        assert mark.startswith("south/"), found_south  # the worker knows which run of its share raised it
        assert mark not in json.dumps(list(stream_b.events))
        assert alert_lines(logs["north"]) == [], "the pair belongs to the lower cell's worker"
        assert '"tracks": 2' in logs["north"].read_text(), (
            "the north worker saw both units (its halo) and left the pair"
        )
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['b']}"}, timeout=10) as b:
            # b acknowledges through the serve process; the worker holding the alert marks its book
            acked = b.post(f"/v1/alerts/{alert_id}/acknowledge")
            assert acked.status_code == 200, acked.text
            assert acked.json()["status"] == "acknowledged" and acked.json()["acknowledged_by"] == ["b"]
            assert b.post("/v1/alerts/alert-00000000000000000001/acknowledge").status_code == 404
            every = b.get("/v1/alerts").json()
            assert_tells_nothing_of_workers(alert_id, json.dumps(every), "south", mark)
            listed = [a for a in every if a["alert_id"] == alert_id]
            assert [(a["status"], a["unit_a"], a["unit_b"]) for a in listed] == [("acknowledged", "ua", "ub")], listed
            deadline = time.monotonic() + 10
            while True:
                export = b.get("/v1/record/export")
                assert export.status_code == 200, export.text
                recorded = [
                    e
                    for e in export.json()["entries"]
                    if "statement" in e
                    and e["statement"]["kind"] in ("alert.raised", "alert.acknowledged")
                    and alert_id in json.dumps(e)
                ]
                if len(recorded) >= 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            # the worker opened the incident of the loss of separation, once
            incidents = [i for i in b.get("/v1/incidents").json() if alert_id in i["alert_ids"]]
            shown = json.dumps([export.json(), incidents, list(stream_b.events)])
            assert_tells_nothing_of_workers(alert_id, shown, "south", mark)
        assert sorted(e["statement"]["kind"] for e in recorded) == ["alert.acknowledged", "alert.raised"], recorded
        deadline = time.monotonic() + 10
        while '"alerts_acknowledged": 1' not in logs["south"].read_text():
            assert time.monotonic() < deadline, "the worker did not mark the acknowledgement in its book"
            time.sleep(0.2)
        assert len(incidents) == 1 and sorted(incidents[0]["unit_ids"]) == ["ua", "ub"], incidents
        print(json.dumps({"first_report_to_alert_on_stream_s": round(first_alert_s or 0.0, 2)}))


async def _ack_floor_and_last(consumer: str) -> tuple[int, int]:
    """The stream sequence ``consumer`` has acknowledged up to, and the track stream's last."""
    nc = await nats.connect(servers(PORT_OFFSET))
    try:
        js = nc.jetstream()
        deadline = time.monotonic() + 30.0
        info = await until_answered(lambda: js.consumer_info(TRACK_STREAM, consumer), deadline)
        stream = await until_answered(lambda: js.stream_info(TRACK_STREAM), deadline)
        assert info.ack_floor is not None and stream.state is not None
        return int(info.ack_floor.stream_seq or 0), int(stream.state.last_seq)
    finally:
        await nc.close()


def test_a_worker_killed_and_restarted_resumes_from_its_durable_consumer(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """The drill: ``kill -9`` of the only worker while reports flow; the same worker started again
    takes exactly the reports after the last it acknowledged (none twice, none lost), resolves the
    alert its first run held (that book died with it) and raises the pair again; the pause (kill to
    the alert on the stream) is printed."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    grid = CellGrid(Settings(data_dir=data_dir).detect_cell_deg)
    cells = ",".join(str(int(c)) for c in grid.cell_of(np.array([LAT_A, LAT_B]), np.array([LON, LON])))
    solo = ("--cells", cells, "--name", "solo", "--status-every-s", "0.5")
    logs = [tmp_path / "solo-1.log", tmp_path / "solo-2.log"]
    with ExitStack() as stack:
        url = stack.enter_context(api(data_dir, postgres_url, tmp_path / "serve.log")).url
        first = stack.enter_context(worker(data_dir, postgres_url, logs[0], *solo))
        stream_b = Stream(url, keys["b"])
        stack.callback(stream_b.close)
        feeds = feed_clients(stack, url, keys)
        t0 = time.time()

        def post() -> None:
            now = time.time()
            for p, unit, lat0, north_mps in (("a", "ua", LAT_A, SPEED_MPS), ("b", "ub", LAT_B, -SPEED_MPS)):
                answer = feeds[p].post("/v1/tracks", json={"reports": [report(unit, lat0, north_mps, t0, now)]})
                assert answer.status_code == 202 and answer.json()["accepted"] == 1, answer.text

        def raised() -> list[str]:
            return [alert_id_of(e) for e in list(stream_b.events) if e.get("kind") == "alert.raised"]

        while not raised():
            assert time.time() - t0 < ALERT_S, f"no first alert: {logs[0].read_text()[-3000:]}"
            post()
            time.sleep(0.5)
        first.kill9()
        killed_s = time.monotonic()
        for _ in range(6):  # reports keep coming while no worker runs: they wait in the stream
            post()
            time.sleep(0.5)
        ack_floor, last = asyncio.run(_ack_floor_and_last("keepclear-detect-solo"))
        assert 0 < ack_floor < last, (ack_floor, last)
        stack.enter_context(worker(data_dir, postgres_url, logs[1], *solo))
        while len(raised()) < 2:
            assert time.monotonic() - killed_s < ALERT_S + 10, (
                f"no alert after the restart: {logs[1].read_text()[-3000:]}"
            )
            post()
            time.sleep(0.5)
        pause_s = time.monotonic() - killed_s
        ack_floor_now, last = asyncio.run(_ack_floor_and_last("keepclear-detect-solo"))
        deadline = time.monotonic() + 10
        while ack_floor_now < last and time.monotonic() < deadline:  # the worker catches up
            time.sleep(0.2)
            ack_floor_now, last = asyncio.run(_ack_floor_and_last("keepclear-detect-solo"))
        assert ack_floor_now == last
        time.sleep(1.0)  # a status line after the last acknowledgement
        taken = [
            json.loads(line)["feed_messages_total"]
            for line in logs[1].read_text().splitlines()
            if '"feed_messages_total"' in line
        ]
        assert taken and taken[-1] == last - ack_floor, (taken[-1:], last, ack_floor)
        alerts = raised()
        assert len(alerts) == 2 and len(set(alerts)) == 2 and all(ALERT_ID.match(a) for a in alerts), alerts
        # each run's alert carries its own run mark of share "solo" (the workers' stdout), never its id
        marks = raised_by_share(logs, "solo")
        assert set(marks) == set(alerts) and len(set(marks.values())) == 2, marks
        assert_tells_nothing_of_workers(alerts[1], json.dumps(list(stream_b.events)), "solo", *marks.values())
        # the first run's alert died with it: the second run resolved it at start, and only its own is active
        resolved = [alert_id_of(e) for e in list(stream_b.events) if e.get("kind") == "alert.resolved"]
        assert resolved == [alerts[0]], resolved
        assert '"earlier_alerts_resolved": 1' in logs[1].read_text()
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['b']}"}, timeout=10) as b:
            assert [a["alert_id"] for a in b.get("/v1/alerts").json()] == [alerts[1]]
        print(
            json.dumps({"kill_to_alert_on_stream_s": round(pause_s, 2), "reports_waiting_at_restart": last - ack_floor})
        )


def share_lines(log: Path) -> list[dict[str, object]]:
    """The lines a worker printed when a share started or stopped there."""
    return [
        json.loads(line) for line in log.read_text().splitlines() if line.startswith('{"worker"') and '"state"' in line
    ]


def share_started(log: Path, share: str) -> int:
    """How many times ``share`` started in the worker of ``log``."""
    return sum(1 for line in share_lines(log) if line["share"] == share and line["state"] == "started")


def share_counts(log: Path, share: str) -> list[float]:
    """The messages ``share``'s feed took, from each status line of the worker of ``log``."""
    out = []
    for line in log.read_text().splitlines():
        if line.startswith('{"worker"') and '"ticks"' in line:
            shares = json.loads(line)["shares"]
            if share in shares:
                out.append(shares[share]["feed_messages_total"])
    return out


def place_in(grid: CellGrid, cells: np.ndarray) -> tuple[float, float, int]:
    """Where the drills' pair starts: (lat, lon, cell) in one of ``cells``, at 35° N (the middle of a
    10° band), with a degree of the same cell west of it and two east (the pair flies east at 200 m/s)."""
    lat0, wanted = 35.0, {int(c) for c in cells}
    for lon in np.arange(-170.0, 170.0, 0.5):
        around = {int(c) for c in grid.cell_of(np.array([lat0] * 3), np.array([lon - 1.0, lon, lon + 2.0]))}
        if len(around) == 1 and around <= wanted:
            return lat0, float(lon), around.pop()
    raise AssertionError(f"no place for the pair in cells {sorted(wanted)}")


def test_a_dead_workers_share_is_taken_over_and_handed_back_when_it_returns(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """The drill: two workers (``--worker-index 0|1 --workers 2``) and a standby (``--standby``); a pair
    in a cell of worker 1's share is alerted by it. Worker 1 is ``kill -9``ed at a random moment while
    reports flow: the standby takes its share over (it waits least: it holds none). Then the standby
    is killed: worker 0 takes the share. Each adopter resumes the share's consumer after the last
    report acknowledged before it (each report taken once), resolves the dead run's alert and raises
    the pair again; each pause (kill to the alert on party b's stream) is printed. Worker 1 started
    again gets its share back: worker 0 hands it over, worker 1 resolves worker 0's alert and raises
    the pair once more. One alert is active at the end."""
    rng = random.Random(int(os.environ.get("KEEPCLEAR_DRILL_SEED", str(random.randrange(1 << 30)))))
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    grid = CellGrid(Settings(data_dir=data_dir).detect_cell_deg)
    lat0, lon0, cell = place_in(grid, shares_of_workers(grid.cell_count, 2)[1].cells)

    def of_two(log: str, *which: str, ready: Callable[[ServedProcess], bool] = WORKER_READY) -> ServedProcess:
        args = (*which, "--workers", "2", "--status-every-s", "0.5", "--adopt-after-s", "1")
        return worker(data_dir, postgres_url, logs[log], *args, ready=ready)

    logs = {n: tmp_path / f"{n}.log" for n in ("w0", "w1-first", "standby", "w1-second")}
    with ExitStack() as stack:
        url = stack.enter_context(api(data_dir, postgres_url, tmp_path / "serve.log")).url
        stack.enter_context(of_two("w0", "--worker-index", "0"))
        first = stack.enter_context(
            of_two("w1-first", "--worker-index", "1", ready=lambda p: share_started(p.log, "w1of2") == 1)
        )
        standby = stack.enter_context(of_two("standby", "--standby", "--name", "spare"))
        stream_b = Stream(url, keys["b"])
        stack.callback(stream_b.close)
        feeds = feed_clients(stack, url, keys)
        t0 = time.time()

        def post() -> None:
            post_pair(feeds, t0, lat0, lon0)

        def of_share(kind: str) -> list[str]:
            """The alert ids of ``kind`` on b's stream of alerts share w1of2 raised (its workers' stdout)."""
            return share_alerts_seen(list(stream_b.events), list(logs.values()), "w1of2", kind)

        def post_until(done: Callable[[], bool], what: str, since_s: float, limit_s: float) -> float:
            while not done():
                assert time.monotonic() - since_s < limit_s, f"{what} not within {limit_s} s:\n" + "\n".join(
                    f"--- {n}\n{p.read_text()[-2500:]}" for n, p in logs.items() if p.exists()
                )
                post()
                time.sleep(0.5)
            return time.monotonic() - since_s

        post_until(lambda: len(of_share("alert.raised")) >= 1, "the first alert", time.monotonic(), ALERT_S)
        assert alert_lines(logs["w0"]) == [], "the pair is in worker 1's share"
        for _ in range(rng.randint(0, 3)):  # a random moment
            post()
            time.sleep(0.5)
        assert share_lines(logs["standby"]) == [], "a standby owns no share"
        adopted_before = share_started(logs["w0"], "w1of2")  # at start, before worker 1 was up
        pauses = []
        for victim, adopter in ((first, "standby"), (standby, "w0")):
            victim.kill9()
            killed_s = time.monotonic()
            ack_floor, _ = asyncio.run(_ack_floor_and_last("keepclear-detect-w1of2"))
            raised_before = of_share("alert.raised")
            count_before = len(raised_before)
            pauses.append(
                post_until(
                    lambda n=count_before: len(of_share("alert.raised")) > n,
                    f"the alert after {adopter} took over",
                    killed_s,
                    ALERT_S,
                )
            )
            raised = of_share("alert.raised")
            assert len(set(raised)) == len(raised_before) + 1, raised
            expected = adopted_before + 1 if adopter == "w0" else 1
            assert share_started(logs[adopter], "w1of2") == expected, share_lines(logs[adopter])
            post_until(
                lambda r=raised_before[-1]: r in of_share("alert.resolved"),
                "the dead run's alert resolved",
                killed_s,
                10,
            )
            # every report after the last acknowledged before the kill is taken by the adopter, once
            deadline = time.monotonic() + 15
            while True:
                floor_now, last = asyncio.run(_ack_floor_and_last("keepclear-detect-w1of2"))
                taken = share_counts(logs[adopter], "w1of2")
                if (floor_now == last and taken and taken[-1] == last - ack_floor) or time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            assert floor_now == last and taken and taken[-1] == last - ack_floor, (
                adopter,
                floor_now,
                last,
                ack_floor,
                taken[-3:],
            )
        assert share_started(logs["w0"], "w1of2") == adopted_before + 1, "worker 0 waited for the standby"

        # worker 1 comes back: worker 0 hands the share over, worker 1 raises the pair under its run
        back_s = time.monotonic()
        stack.enter_context(of_two("w1-second", "--worker-index", "1"))
        post_until(lambda: len(of_share("alert.raised")) >= 4, "the alert after the hand-back", back_s, ALERT_S + 30)
        raised = of_share("alert.raised")
        assert len(set(raised)) == 4, raised
        assert any(
            line["share"] == "w1of2" and line["state"] == "stopped" and line["reason"] == "handed back"
            for line in share_lines(logs["w0"])
        ), share_lines(logs["w0"])
        assert share_started(logs["w1-second"], "w1of2") == 1
        post_until(lambda: raised[2] in of_share("alert.resolved"), "the adopter's alert resolved", back_s, 15)
        for _ in range(4):  # a few more ticks: nothing else is raised
            post()
            time.sleep(0.5)
        assert of_share("alert.raised") == raised
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys['b']}"}, timeout=10) as b:
            active = [a["alert_id"] for a in b.get("/v1/alerts").json() if a["status"] != "resolved"]
        assert active == [raised[3]], active
        # four runs of share w1of2 (worker 1, the standby, worker 0, worker 1 again), none named to b
        marks = raised_by_share(list(logs.values()), "w1of2")
        assert len(set(marks.values())) == 4, marks
        for alert_id in raised:
            assert_tells_nothing_of_workers(alert_id, json.dumps(list(stream_b.events)), "w1of2", "w0of2", "spare")
        print(
            json.dumps(
                {
                    "cell": cell,
                    "kill_to_alert_on_stream_s": {"standby": round(pauses[0], 2), "worker": round(pauses[1], 2)},
                }
            )
        )


def test_finer_shares_of_a_dead_worker_spread_over_the_living(
    running_cluster: dict[str, str], postgres_url: str, tmp_path: Path
) -> None:
    """Three workers of two shares each (``--shares-per-worker 2``); a pair in a cell of one of worker
    1's shares is alerted by it. Worker 1 is ``kill -9``ed: workers 0 and 2 take one of its shares
    each (an adopter waits one ``adopt_after_s`` more for each share it holds, so the second share
    goes to the other), and the pair is alerted again by whichever took its share."""
    data_dir = tmp_path / "data"
    keys = populate(data_dir, postgres_url)
    grid = CellGrid(Settings(data_dir=data_dir).detect_cell_deg)
    shares = shares_of_workers(grid.cell_count, 3, 2)
    dead = [s for s in shares if s.worker == "w1of3"]
    lat0, lon0, cell = place_in(grid, dead[0].cells)
    logs = {n: tmp_path / f"{n}.log" for n in ("w0", "w1", "w2")}

    def of_three(index: int) -> ServedProcess:
        args = ("--worker-index", str(index), "--workers", "3", "--shares-per-worker", "2")
        args += ("--status-every-s", "0.5", "--adopt-after-s", "1")
        ready = lambda p: all(share_started(p.log, s.name) for s in shares if s.worker == f"w{index}of3")  # noqa: E731
        return worker(data_dir, postgres_url, logs[f"w{index}"], *args, ready=ready)

    with ExitStack() as stack:
        url = stack.enter_context(api(data_dir, postgres_url, tmp_path / "serve.log")).url
        processes = [stack.enter_context(of_three(i)) for i in range(3)]
        stream_b = Stream(url, keys["b"])
        stack.callback(stream_b.close)
        feeds = feed_clients(stack, url, keys)
        t0 = time.time()

        def raised(share: str) -> list[str]:
            """The alert ids on b's stream that ``share`` raised (the workers' stdout)."""
            mine = raised_by_share(list(logs.values()), share)
            return [
                alert_id_of(e)
                for e in list(stream_b.events)
                if e.get("kind") == "alert.raised" and alert_id_of(e) in mine
            ]

        def post_until(done: Callable[[], bool], what: str, since_s: float) -> float:
            while not done():
                assert time.monotonic() - since_s < ALERT_S, f"{what} not within {ALERT_S} s:\n" + "\n".join(
                    f"--- {n}\n{p.read_text()[-2500:]}" for n, p in logs.items()
                )
                post_pair(feeds, t0, lat0, lon0)
                time.sleep(0.5)
            return time.monotonic() - since_s

        share = dead[0].name
        post_until(lambda: len(raised(share)) >= 1, "the first alert", time.monotonic())
        # A share of worker 1 a living worker started before the kill (adopted while worker 1 was still
        # starting, then handed back) is not a takeover: only starts after the kill count.
        started_before = {(n, s.name): share_started(logs[n], s.name) for n in ("w0", "w2") for s in dead}
        processes[1].kill9()
        killed_s = time.monotonic()
        pause_s = post_until(lambda: len(set(raised(share))) >= 2, "the alert after the takeover", killed_s)
        deadline = time.monotonic() + ALERT_S
        while True:
            taken = {
                n: [s.name for s in dead if share_started(logs[n], s.name) > started_before[n, s.name]]
                for n in ("w0", "w2")
            }
            if (
                sorted(n for names in taken.values() for n in names) == [s.name for s in dead]
                or time.monotonic() > deadline
            ):
                break
            time.sleep(0.5)
        # One share each: the load spread.
        assert all(len(names) == 1 for names in taken.values()), (taken, {n: share_lines(logs[n]) for n in taken})
        # two runs of the share (worker 1's, its adopter's) raised the pair; b's stream names neither
        marks = raised_by_share(list(logs.values()), share)
        assert len(set(marks.values())) == 2, marks
        for alert_id in set(raised(share)):
            assert_tells_nothing_of_workers(alert_id, json.dumps(list(stream_b.events)), share, *marks.values())
        print(json.dumps({"cell": cell, "adopted": taken, "kill_to_alert_on_stream_s": round(pause_s, 2)}))
