"""Done-when of CoT: party A's TAK client sends its position as CoT, party B's feed posts over HTTP;
the alert they raise reaches A's TAK network as a CoT alert with its level, and A's TAK network
never receives B's unit outside the alert."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from types import ModuleType

import defusedxml.ElementTree as SafeET
import pytest
from apisupport import EXAMPLE_ZONES, Service, import_example_zones
from interopsupport import pytak_send, tracks, wait_for

from keepclear.domain.timefmt import format_utc
from keepclear.interop.cot import decode_drawing, event_xml, split_events
from keepclear.interop.cot_out import ALERT_TYPE, CANCEL_TYPE, CotOut, Target, WrongPartyKeyError
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster

SPEED_MPS = 220.0


class TcpCollector:
    """A TCP server standing for a TAK server's input: keeps every CoT event it receives."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.events: list[bytes] = []
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        buffer = bytearray()
        with conn:
            while chunk := conn.recv(65536):
                buffer += chunk
                self.events += split_events(buffer)

    def close(self) -> None:
        self.listener.close()


def received(sock: socket.socket) -> list[dict[str, str]]:
    """Every datagram waiting on ``sock``, as (uid, type, remarks, level) of each event."""
    out = []
    sock.settimeout(0.5)
    while True:
        try:
            data, _ = sock.recvfrom(65536)
        except TimeoutError:
            return out
        root = SafeET.fromstring(data)
        mark = root.find("detail/__keepclear")
        out.append(
            {
                "uid": root.get("uid", ""),
                "type": root.get("type", ""),
                "remarks": root.findtext("detail/remarks") or "",
                "level": "" if mark is None else mark.get("level", ""),
            }
        )


@pytest.fixture
def tak_a(service: Service) -> Iterator[socket.socket]:
    """A's TAK network: a UDP socket on loopback."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def test_an_alert_from_a_cot_feed_and_an_http_feed_reaches_a_tak_as_a_cot_alert(
    service: Service, tak_a: socket.socket, pytak: ModuleType
) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    gateway = Gateway(
        parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n"),
        decoders(),
        [Endpoint.parse("cot:tcp:0", ("cot",))],
        poster.offer,
        stats,
    )
    tcp_tak = TcpCollector()
    out_stats = Stats()
    out_a = CotOut(
        service.url,
        service.keys["a-liaison"],
        "a",
        [Target.parse(f"udp://127.0.0.1:{tak_a.getsockname()[1]}"), Target.parse(f"tcp://127.0.0.1:{tcp_tak.port}")],
        out_stats,
    )
    poster.start()
    gateway.start()
    try:

        def a_reports(lon_deg: float, east_mps: float) -> None:
            now_s = time.time()
            event = event_xml(
                uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=35.0,
                lon_deg=lon_deg, hae_m=7000.0, course_deg=90.0 if east_mps > 0 else 270.0, speed_mps=abs(east_mps),
            )  # fmt: skip
            pytak_send(pytak, f"tcp://127.0.0.1:{gateway.ports[0]}", [event])  # A's TAK client

        def b_reports(lon_deg: float, east_mps: float) -> None:
            report = {
                "unit_id": "ub", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": lon_deg,
                "alt_m": 7000.0, "vel_east_mps": east_mps, "vel_north_mps": 0.0,
            }  # fmt: skip
            with service.client("b-feed") as b_feed:
                assert b_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1

        # Far apart: A's TAK gets A's aircraft, friendly, and nothing of B's.
        a_reports(38.0, 0.0)
        b_reports(41.0, 0.0)
        wait_for(lambda: tracks(service, "b-liaison").get("ub"), what="ub")
        wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua from CoT")
        out_a.cycle()
        first = received(tak_a)
        assert [(e["uid"], e["type"]) for e in first] == [("keepclear.ua", "a-f-A")]

        # Head on, 40 km apart at 440 m/s closure: an alert; B's aircraft is shown inside it.
        a_reports(38.0, SPEED_MPS)
        b_reports(38.44, -SPEED_MPS)
        with service.client("a-liaison") as a_liaison:
            alert = wait_for(lambda: a_liaison.get("/v1/alerts").json(), what="the alert")[0]
        out_a.cycle()
        second = received(tak_a)
        by_uid = {e["uid"]: e for e in second}
        assert by_uid["keepclear.ub"]["type"] == "a-u-A"
        cot_alert = by_uid[f"keepclear.alert.{alert['alert_id']}"]
        assert cot_alert["type"] == ALERT_TYPE
        assert cot_alert["level"] == alert["level"] and alert["level"] in cot_alert["remarks"]
        # The TCP target got the same events as the UDP one.
        wait_for(lambda: len(tcp_tak.events) >= len(first) + len(second), what="the TCP copy")
        assert b"keepclear.alert." in b"".join(tcp_tak.events)

        # Far apart again: once the alert resolves, A's TAK gets its cancellation and B's unit no more.
        b_reports(41.0, 0.0)
        a_reports(38.0, 0.0)
        with service.client("a-liaison") as a_liaison:
            wait_for(lambda: a_liaison.get("/v1/alerts").json() == [] or None, what="the alert's end")
        out_a.cycle()
        third = received(tak_a)
        assert {e["uid"] for e in third if e["type"] not in (CANCEL_TYPE, "b-t-f")} == {"keepclear.ua"}
        assert [e["uid"] for e in third if e["type"] == CANCEL_TYPE] == [f"keepclear.alert.{alert['alert_id']}"]
        assert out_stats.snapshot()["send_errors"] == 0
    finally:
        gateway.stop()
        poster.stop()
        out_a.close()
        tcp_tak.close()


def test_units_a_tak_user_reports_are_not_echoed_back(service: Service, tak_a: socket.socket) -> None:
    with service.client("a-feed") as a_feed:
        report = {"unit_id": "ua", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": 38.0}
        partner = {**report, "unit_id": "ua-partner"}
        assert a_feed.post("/v1/tracks", json={"reports": [report, partner]}).json()["accepted"] == 2
    wait_for(lambda: len(tracks(service, "a-liaison")) == 2 or None, what="a's units")
    out_a = CotOut(
        service.url,
        service.keys["a-observer"],
        "a",
        [Target.parse(f"udp://127.0.0.1:{tak_a.getsockname()[1]}")],
        Stats(),
        skip_units=frozenset({"ua"}),
    )
    try:
        out_a.cycle()
    finally:
        out_a.close()
    assert [(e["uid"], e["type"]) for e in received(tak_a)] == [("keepclear.ua-partner", "a-f-G")]


def test_targets_are_checked() -> None:
    assert Target.parse("udp://239.2.3.1:6969") == Target("udp", "239.2.3.1", 6969)
    for bad in ("239.2.3.1:6969", "http://x:1", "tcp://host", "udp://:1"):
        with pytest.raises(ValueError, match="udp://HOST:PORT"):
            Target.parse(bad)


def test_zones_are_sent_as_shapes_and_markers(service: Service, tak_a: socket.socket) -> None:
    document = json.loads(EXAMPLE_ZONES.read_text())
    import_example_zones(service.deployment)
    out_a = CotOut(
        service.url,
        service.keys["a-observer"],
        "a",
        [Target.parse(f"udp://127.0.0.1:{tak_a.getsockname()[1]}")],
        Stats(),
    )
    try:
        out_a.cycle()
        out_a.cycle()  # zones go out every 30 s, not every cycle
    finally:
        out_a.close()
    tak_a.settimeout(0.5)
    events = []
    while True:
        try:
            events.append(SafeET.fromstring(tak_a.recvfrom(65536)[0]))
        except TimeoutError:
            break
    by_uid = {e.get("uid"): e for e in events}
    assert len(events) == len(by_uid) == len(document["features"])
    ghouta = by_uid["keepclear.zone.eastern-ghouta"]
    assert ghouta.get("type") == "u-d-f"
    links = [link.get("point") for link in ghouta.iterfind("detail/link")]
    assert len(links) == 6 and links[0] == links[-1] == "33.5000000,36.3300000"  # the ring, closed
    assert ghouta.find("detail/contact").get("callsign") == "Eastern Ghouta"  # type: ignore[union-attr]
    assert by_uid["keepclear.zone.euphrates-line"].get("type") == "u-d-f"
    hospital = by_uid["keepclear.zone.deir-ez-zor-hospital"]  # a protected site: a point with its radius
    assert hospital.get("type") == "u-d-c-c"
    assert hospital.find("detail/shape/ellipse").get("major") == "1000.0"  # type: ignore[union-attr]
    circle = decode_drawing(SafeET.tostring(hospital))  # as a TAK user's drawing of it would be read
    assert circle is not None and circle.geometry == {
        "type": "Point",
        "coordinates": [40.14, 35.336],
        "radius_m": 1000.0,
    }


def test_an_alert_wakes_the_picture_at_once_without_waiting_for_the_interval(
    service: Service, tak_a: socket.socket
) -> None:
    out_a = CotOut(
        service.url,
        service.keys["a-liaison"],
        "a",
        [Target.parse(f"udp://127.0.0.1:{tak_a.getsockname()[1]}")],
        Stats(),
        interval_s=60.0,
    )
    stop = threading.Event()
    worker = threading.Thread(target=out_a.run, args=(stop,), daemon=True)
    worker.start()
    try:
        time.sleep(1.0)  # the first picture (empty) and the live stream open
        now = format_utc(time.time())
        head_on = [
            ("a-feed", {"unit_id": "ua", "time": now, "lat_deg": 35.0, "lon_deg": 38.0, "alt_m": 7000.0, "vel_east_mps": SPEED_MPS}),
            ("b-feed", {"unit_id": "ub", "time": now, "lat_deg": 35.0, "lon_deg": 38.44, "alt_m": 7000.0, "vel_east_mps": -SPEED_MPS}),
        ]  # fmt: skip
        sent_s = time.monotonic()
        for who, report in head_on:
            with service.client(who) as feed:
                assert feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
        tak_a.settimeout(15.0)
        while True:
            data, _ = tak_a.recvfrom(65536)
            if ALERT_TYPE.encode() in data:
                break
        # Far sooner than the 60 s interval: the stream's alert event woke the cycle.
        assert time.monotonic() - sent_s < 15.0
    finally:
        stop.set()
        out_a.wake()
        worker.join(timeout=15)
        out_a.close()
    assert not worker.is_alive()


def test_a_picture_read_with_another_partys_key_is_never_sent(service: Service, tak_a: socket.socket) -> None:
    """An adapter for a given b's key by mistake would send b's picture to a's TAK network, as friendly."""
    with service.client("b-feed") as b_feed:
        report = {"unit_id": "ub", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": 38.0}
        assert b_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    wait_for(lambda: len(tracks(service, "b-liaison")) == 1 or None, what="b's unit")
    stats = Stats()
    out_a = CotOut(
        service.url, service.keys["b-liaison"], "a", [Target.parse(f"udp://127.0.0.1:{tak_a.getsockname()[1]}")], stats
    )
    stop = threading.Event()
    runner = threading.Thread(target=out_a.run, args=(stop,), daemon=True)
    try:
        with pytest.raises(WrongPartyKeyError, match="party b's, not party a's: nothing is sent"):
            out_a.cycle()
        runner.start()
        wait_for(lambda: stats.snapshot().get("wrong_party_key") or None, what="the refusal counted")
        out_a.wake()  # a wake after the refusal sends nothing either
        time.sleep(0.3)
    finally:
        stop.set()
        runner.join(timeout=5)
        out_a.close()
    assert received(tak_a) == []
    assert stats.snapshot()["wrong_party_key"] == 1 and stats.snapshot()["sent"] == 0
