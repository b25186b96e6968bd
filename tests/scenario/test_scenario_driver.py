"""The driver plays a scenario into a deployment: reports once each, per party, in time with the script."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from conftest import MINI_YAML
from keepclear.domain import TrackReport
from keepclear.domain.timefmt import parse_utc
from keepclear.errors import KeepclearError, ValidationError
from keepclear.scenario import (
    AcknowledgeActivity,
    AcknowledgeMessage,
    DriverConfig,
    HttpTransport,
    NotifyActivity,
    PostMessage,
    Scenario,
    ScenarioDriver,
    ScriptAction,
    ScriptedMessage,
    ScriptPlayer,
    Simulator,
    SinkTransport,
    TransportError,
    load_scenario,
)


@pytest.fixture
def mini(write_scenario: Callable[[str], Path]) -> Scenario:
    return load_scenario(write_scenario(MINI_YAML))


class Recorder:
    """Records what a deployment would see, with the clock the driver had set."""

    def __init__(self) -> None:
        self.clock_s = 0.0
        self.clock_history: list[float] = []
        self.batches: list[tuple[str, float, list[TrackReport]]] = []
        self.actions: list[tuple[float, ScriptAction]] = []

    def on_time(self, time_s: float) -> None:
        self.clock_s = time_s
        self.clock_history.append(time_s)

    def sink(self, party_id: str, reports: Sequence[TrackReport]) -> None:
        self.batches.append((party_id, self.clock_s, list(reports)))

    def perform(self, action: ScriptAction) -> None:
        self.actions.append((self.clock_s, action))


def test_flat_out_run_delivers_every_report_once_per_party_in_time(mini: Scenario) -> None:
    sim = Simulator(mini)
    rec = Recorder()
    driver = ScenarioDriver(sim, SinkTransport(rec.sink), rec, DriverConfig(speed=None, max_step_s=5.0), rec.on_time)
    final = driver.run()
    delivered = [r for _, _, batch in rec.batches for r in batch]
    assert sorted(delivered, key=lambda r: (r.time_s, r.unit_id)) == sim.reports_between(sim.start_s, sim.end_s)
    assert final.reports_sent == len(delivered) and driver.done
    party = mini.party_of_unit()
    for party_id, clock_s, batch in rec.batches:
        assert {party[r.unit_id] for r in batch} == {party_id}
        assert all(clock_s - 5.0 <= r.time_s <= clock_s for r in batch)
    assert rec.clock_history == sorted(rec.clock_history)
    assert max(b - a for a, b in itertools.pairwise(rec.clock_history)) <= 5.0 + 1e-9


def test_script_actions_happen_at_their_time_and_never_means_never(mini: Scenario) -> None:
    rec = Recorder()
    ScenarioDriver(Simulator(mini), SinkTransport(rec.sink), rec, DriverConfig(speed=None), rec.on_time).run()
    times = [action.time_s for _, action in rec.actions]
    assert times == sorted(times)
    assert all(clock_s == pytest.approx(action.time_s, abs=1e-5) for clock_s, action in rec.actions)
    kinds = [(type(a).__name__, a.activity.ref if isinstance(a, NotifyActivity) else _ref(a)) for _, a in rec.actions]
    assert ("AcknowledgeActivity", "op1") in kinds
    assert ("AcknowledgeMessage", "hello") in kinds
    assert not any(isinstance(a, AcknowledgeMessage) and a.ref == "reply" for _, a in rec.actions)
    posts = [a for _, a in rec.actions if isinstance(a, PostMessage)]
    assert [p.message.ref for p in posts] == ["hello", "reply"]
    start = parse_utc("2017-11-08T06:00:00Z", "t")
    ack = next(a for _, a in rec.actions if isinstance(a, AcknowledgeMessage))
    assert ack.time_s == start + 30


def _ref(action: ScriptAction) -> str:
    if isinstance(action, PostMessage):
        return action.message.ref
    assert not isinstance(action, NotifyActivity)
    return action.ref


class FakeWall:
    """A wall clock that moves only when slept on."""

    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps = 0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds


def test_paced_run_keeps_to_the_speed(mini: Scenario) -> None:
    wall = FakeWall()
    rec = Recorder()
    config = DriverConfig(speed=100.0, tick_s=0.5)
    driver = ScenarioDriver(
        Simulator(mini), SinkTransport(rec.sink), rec, config, rec.on_time, wall.monotonic, wall.sleep
    )
    seen: list[float] = []
    driver.run(progress=lambda p: seen.append(p.time_s))
    assert driver.done
    duration_s = mini.end_s - mini.start_s
    assert wall.sleeps == pytest.approx(duration_s / (100.0 * 0.5), abs=1)
    assert seen[0] == pytest.approx(mini.start_s + 50.0)


def test_stop_ends_a_run_early(mini: Scenario) -> None:
    stop = threading.Event()
    rec = Recorder()
    driver = ScenarioDriver(Simulator(mini), SinkTransport(rec.sink), rec, DriverConfig(speed=1000.0, tick_s=0.01))
    driver.run(progress=lambda _: stop.set(), stop=stop)
    assert not driver.done and driver.time_s > mini.start_s


@pytest.mark.parametrize("speed", [0.5, 1001.0])
def test_speed_outside_range_is_refused(speed: float) -> None:
    with pytest.raises(ValidationError, match="speed"):
        DriverConfig(speed=speed)


class _Handler(BaseHTTPRequestHandler):
    received: list[tuple[str, str | None, dict[str, Any]]] = []  # noqa: RUF012 (per-server class below)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.received.append((self.path, self.headers.get("Authorization"), body))
        status = 401 if self.headers.get("Authorization") == "Bearer wrong" else 202
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b'{"detail": "bad feed key"}' if status == 401 else b"{}")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, list[tuple[str, str | None, dict[str, Any]]]]]:
    handler = type("Handler", (_Handler,), {"received": []})
    httpd = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", handler.received
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_http_transport_posts_batches_with_the_party_feed_key(
    mini: Scenario, server: tuple[str, list[tuple[str, str | None, dict[str, Any]]]]
) -> None:
    url, received = server
    sim = Simulator(mini)
    transport = HttpTransport(url + "/", {"blue": "k-blue", "red": "k-red"}, batch_size=50)
    driver = ScenarioDriver(sim, transport, None, DriverConfig(speed=None, max_step_s=600.0))
    driver.run(until_s=sim.start_s + 1200.0)
    assert received and all(path == "/v1/tracks" for path, _, _ in received)
    assert all(len(body["reports"]) <= 50 for _, _, body in received)
    sent = [(auth, r) for _, auth, body in received for r in body["reports"]]
    expected = sim.reports_between(sim.start_s, sim.start_s + 1200.0)
    assert len(sent) == len(expected)
    keys = {"jet": "Bearer k-blue", "truck": "Bearer k-red"}
    assert all(auth == keys[r["unit_id"]] for auth, r in sent)
    first = next(r for _, r in sent if r["unit_id"] == "jet")
    assert set(first) == {
        "unit_id",
        "time",
        "lat_deg",
        "lon_deg",
        "alt_m",
        "vel_east_mps",
        "vel_north_mps",
        "vel_up_mps",
    }
    assert first["time"].endswith("Z")
    match = next(e for e in expected if e.unit_id == "jet")
    assert parse_utc(first["time"], "time") == pytest.approx(match.time_s, abs=1e-3)


def test_http_transport_reports_refusals_and_missing_keys(
    mini: Scenario, server: tuple[str, list[tuple[str, str | None, dict[str, Any]]]]
) -> None:
    url, _ = server
    report = Simulator(mini).reports_between(mini.start_s, mini.end_s)[0]
    with pytest.raises(TransportError, match="HTTP 401"):
        HttpTransport(url, {"blue": "wrong"}).send("blue", [report])
    with pytest.raises(TransportError, match="no feed key for party 'red'"):
        HttpTransport(url, {"blue": "k"}).send("red", [report])
    with pytest.raises(TransportError, match=r"POST http://127\.0\.0\.1:9/v1/tracks"):
        HttpTransport("http://127.0.0.1:9", {"blue": "k"}, timeout_s=2).send("blue", [report])


class FakeServices:
    """Services that hand out ids, so the player's bookkeeping can be checked."""

    def __init__(self) -> None:
        self.log: list[tuple[str, ...]] = []

    def notify(self, party_id: str, body: Mapping[str, Any]) -> str:
        self.log.append(("notify", party_id, str(body["kind"])))
        return f"act-{len(self.log)}"

    def ack_activity(self, party_id: str, activity_id: str) -> None:
        self.log.append(("ack-activity", party_id, activity_id))

    def post(self, message: ScriptedMessage, thread_id: str | None, reply_to_id: str | None) -> tuple[str, str]:
        self.log.append(("post", message.from_party, str(thread_id), str(reply_to_id)))
        return f"msg-{len(self.log)}", thread_id or f"thr-{len(self.log)}"

    def ack_message(self, party_id: str, message_id: str) -> None:
        self.log.append(("ack-message", party_id, message_id))


def test_script_player_maps_refs_to_service_ids(mini: Scenario) -> None:
    services = FakeServices()
    player = ScriptPlayer(services.notify, services.ack_activity, services.post, services.ack_message)
    ScenarioDriver(Simulator(mini), SinkTransport(lambda *_: None), player, DriverConfig(speed=None)).run()
    assert services.log == [
        ("post", "blue", "None", "None"),  # hello opens thread "hello"
        ("ack-message", "red", "msg-1"),  # +30 s
        ("notify", "blue", "air-operation"),  # +60 s
        ("post", "red", "thr-1", "msg-1"),  # reply in the same thread, answering hello; never acknowledged
        ("ack-activity", "red", "act-3"),  # +60 s + 120 s
    ]
    assert player.activity_ids == {"op1": "act-3"} and player.thread_ids == {"hello": "thr-1"}


def test_script_player_names_an_unknown_subject() -> None:
    player = ScriptPlayer(
        FakeServices().notify, FakeServices().ack_activity, FakeServices().post, FakeServices().ack_message
    )
    with pytest.raises(KeepclearError, match="scenario activity 'a9' was never created"):
        player.perform(AcknowledgeActivity(0.0, "a9", "red"))
