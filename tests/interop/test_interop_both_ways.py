"""One port both ways: a TAK client connected to keepclear's CoT or TAK port sends its positions in and
gets its party's picture back on the same connection (as from a TAK server); on the shared TLS port
the client certificate's party decides what the connection gets."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from configparser import ConfigParser
from pathlib import Path
from types import ModuleType
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import takproto
from apisupport import Service
from interopsupport import tracks, wait_for, write_certificate

from keepclear.api.server import free_port
from keepclear.domain.timefmt import format_utc
from keepclear.errors import ValidationError
from keepclear.interop.clients import Clients
from keepclear.interop.cot import event_xml, split_events
from keepclear.interop.cot_out import ALERT_TYPE, CotOut
from keepclear.interop.gateway import Endpoint, Gateway, server_tls
from keepclear.interop.hosting import parse_adapters
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.tak_endpoint import ClientRule, TakEndpoint
from keepclear.interop.takproto_in import split_tak
from serving import KEEPCLEAR, ServedProcess, log_says

SPEED_MPS = 220.0


def position(uid: str, lon_deg: float, east_mps: float, protocol: str) -> bytes:
    now_s = time.time()
    event = event_xml(
        uid=uid, cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=35.0, lon_deg=lon_deg, hae_m=7000.0,
        course_deg=90.0 if east_mps > 0 else 270.0, speed_mps=abs(east_mps),
    )  # fmt: skip
    return bytes(takproto.xml2proto(event.decode(), takproto.TAKProtoVer.STREAM)) if protocol == "tak" else event


def b_reports(service: Service, lon_deg: float, east_mps: float) -> None:
    report = {
        "unit_id": "ub", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": lon_deg, "alt_m": 7000.0,
        "vel_east_mps": east_mps, "vel_north_mps": 0.0,
    }  # fmt: skip
    with service.client("b-feed") as b_feed:
        assert b_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1


class Picture:
    """What one connection received: (uid, type, level) of each whole event, XML or TAK protocol."""

    def __init__(self, protocol: str) -> None:
        self.protocol = protocol
        self.buffer = bytearray()
        self.events: list[tuple[str, str, str]] = []

    def feed(self, chunk: bytes) -> None:
        self.buffer += chunk
        if self.protocol == "tak":
            for message in split_tak(self.buffer):
                parsed: Any = takproto.parse_proto(bytearray(message))
                event = parsed.cotEvent
                mark = SafeET.fromstring(f"<d>{event.detail.xmlDetail}</d>").find("__keepclear")
                self.events.append((event.uid, event.type, "" if mark is None else mark.get("level", "")))
        else:
            for message in split_events(self.buffer):
                root = SafeET.fromstring(message)
                mark = root.find("detail/__keepclear")
                self.events.append(
                    (root.get("uid", ""), root.get("type", ""), "" if mark is None else mark.get("level", ""))
                )

    def uids(self) -> set[str]:
        return {uid for uid, _, _ in self.events}


@pytest.fixture
def party_a(service: Service) -> Iterator[tuple[Gateway, CotOut, Stats]]:
    """Party a's adapter: cot and tak listeners whose connections get a's picture back."""
    stats = Stats()
    clients = Clients()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n")
    endpoints = [Endpoint("cot", "tcp", "127.0.0.1", 0), Endpoint("tak", "tcp", "127.0.0.1", 0)]
    gateway = Gateway(mapping, decoders(), endpoints, poster.offer, stats, clients=clients)
    picture = CotOut(service.url, service.keys["a-liaison"], "a", [], stats, interval_s=0.5, clients=clients)
    stop = threading.Event()
    worker = threading.Thread(target=picture.run, args=(stop,), daemon=True)
    poster.start()
    gateway.start()
    worker.start()
    yield gateway, picture, stats
    stop.set()
    picture.wake()
    worker.join(timeout=15)
    picture.close()
    gateway.stop()
    poster.stop()


@pytest.mark.parametrize("protocol", ["xml", "tak"])
def test_a_tak_client_sends_positions_and_gets_its_partys_picture_on_one_connection(
    service: Service, pytak: ModuleType, party_a: tuple[Gateway, CotOut, Stats], protocol: str
) -> None:
    gateway, _, stats = party_a
    port = gateway.ports[0 if protocol == "xml" else 1]
    seen = Picture(protocol)

    async def until(reader: asyncio.StreamReader, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20.0
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}; got {sorted(seen.uids())}")
            chunk = await asyncio.wait_for(reader.read(65_536), timeout=20.0)
            assert chunk, "keepclear closed the connection"
            seen.feed(chunk)

    async def session() -> None:
        config = ConfigParser()
        config["client"] = {"COT_URL": f"tcp://127.0.0.1:{port}"}
        reader, writer = await pytak.protocol_factory(config["client"])  # A's TAK client, as ATAK connects
        b_reports(service, 41.0, 0.0)  # far apart: A's picture holds A's aircraft and nothing of B's
        writer.write(position("ANDROID-A1", 38.0, 0.0, protocol))
        await writer.drain()
        await until(reader, lambda: "keepclear.ua" in seen.uids(), "A's own unit")
        assert "keepclear.ub" not in seen.uids()
        before = len(seen.events)
        # Head on, 40 km apart at 440 m/s closure: the alert reaches the same connection.
        b_reports(service, 38.44, -SPEED_MPS)
        writer.write(position("ANDROID-A1", 38.0, SPEED_MPS, protocol))
        await writer.drain()
        await until(reader, lambda: any(t == ALERT_TYPE for _, t, _ in seen.events[before:]), "the alert")
        writer.close()

    asyncio.run(session())
    alerts = [e for e in seen.events if e[1] == ALERT_TYPE]
    with service.client("a-liaison") as a_liaison:
        [alert] = a_liaison.get("/v1/alerts").json()
    assert alerts[0][0] == f"keepclear.alert.{alert['alert_id']}" and alerts[0][2] == alert["level"]
    assert ("keepclear.ub", "a-u-A", "") in seen.events  # B's unit, only inside the alert
    counts = stats.snapshot()
    assert counts["accepted"] >= 2 and counts["malformed"] == 0 and counts["sent"] > 0


def test_on_the_shared_tls_port_the_certificates_party_decides_the_picture(service: Service, tmp_path: Path) -> None:
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "server", ca)
    write_certificate(tmp_path, "atak-a", ca, organization="Party A")
    write_certificate(tmp_path, "atak-b", ca, organization="Party B")
    with service.client("a-feed") as a_feed, service.client("b-feed") as b_feed:
        now = format_utc(time.time())
        assert (
            a_feed.post(
                "/v1/tracks", json={"reports": [{"unit_id": "ua", "time": now, "lat_deg": 35.0, "lon_deg": 38.0}]}
            ).json()["accepted"]
            == 1
        )
        assert b_feed.post("/v1/tracks", json={"reports": [
            {"unit_id": "ub", "time": now, "lat_deg": 35.0, "lon_deg": 41.0}]}).json()["accepted"] == 1  # fmt: skip
    stats = Stats()
    stop = threading.Event()
    parts = []
    for party in ("a", "b"):
        clients = Clients()
        poster = Poster(service.url, service.keys[f"{party}-feed"], stats, flush_s=0.05)
        gateway = Gateway(
            parse_mapping(f"party: {party}\ncot:\n  ANDROID-{party.upper()}1: u{party}\n"),
            decoders(),
            [],
            poster.offer,
            stats,
            clients=clients,
        )
        picture = CotOut(service.url, service.keys[f"{party}-observer"], party, [], stats, interval_s=0.5,
                         clients=clients)  # fmt: skip
        worker = threading.Thread(target=picture.run, args=(stop,), daemon=True)
        parts.append((poster, gateway, picture, worker))
    tls = server_tls(str(tmp_path / "server.pem"), str(tmp_path / "server.key"), str(tmp_path / "ca.pem"))
    rules = [ClientRule("organizationName", f"Party {p.upper()}", parts[i][1]) for i, p in enumerate("ab")]
    endpoint = TakEndpoint([Endpoint("cot", "tls", "127.0.0.1", 0)], tls, rules, stats)
    endpoint.start()
    for _, _, _, worker in parts:
        worker.start()
    received = {}
    try:
        for client in ("atak-a", "atak-b"):
            context = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
            context.load_cert_chain(str(tmp_path / f"{client}.pem"), str(tmp_path / f"{client}.key"))
            seen = Picture("xml")
            with (
                socket.create_connection(("127.0.0.1", endpoint.ports[0])) as raw,
                context.wrap_socket(raw, server_hostname="127.0.0.1") as conn,
            ):
                conn.settimeout(0.3)
                first = deadline = time.monotonic() + 20.0
                while time.monotonic() < min(deadline, first):  # the first picture, then 1.5 s more of them
                    with contextlib.suppress(TimeoutError):
                        seen.feed(conn.recv(65_536))
                    if first > deadline - 1 and {"keepclear.ua", "keepclear.ub"} & seen.uids():
                        first = time.monotonic() + 1.5
            received[client] = seen.uids()
    finally:
        stop.set()
        for _, gateway, picture, worker in parts:
            picture.wake()
            worker.join(timeout=15)
            picture.close()
            gateway.stop()
        endpoint.stop()
    assert "keepclear.ua" in received["atak-a"] and "keepclear.ub" not in received["atak-a"]
    assert "keepclear.ub" in received["atak-b"] and "keepclear.ua" not in received["atak-b"]


def test_interop_run_with_a_picture_key_answers_on_the_same_connection(
    service: Service, pytak: ModuleType, tmp_path: Path
) -> None:
    """``interop run --picture-key``: a TAK client on its tak:tcp port sends its position (accepted as
    ua) and gets party a's picture back: a's other unit, not its own echoed (the mapping names it)."""
    with service.client("a-feed") as a_feed:
        report = {"unit_id": "ua-partner", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": 38.0}
        assert a_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    (tmp_path / "interop.yaml").write_text("party: a\ncot:\n  ANDROID-A1: ua\n")
    port = free_port()
    command = [
        KEEPCLEAR, "interop", "run", "--mapping", str(tmp_path / "interop.yaml"), "--url", service.url,
        "--listen", f"tak:tcp:{port}", "--interval-s", "0.5",
    ]  # fmt: skip
    env = {"KEEPCLEAR_FEED_KEY": service.keys["a-feed"], "KEEPCLEAR_PICTURE_KEY": service.keys["a-observer"]}
    adapter = ServedProcess(command, tmp_path / "interop.log", env=env, ready=log_says("ready:"))
    seen = Picture("tak")
    with adapter.start():
        [ready] = [line for line in adapter.log_text().splitlines() if line.startswith("ready:")]
        assert "picture back" in ready

        async def session() -> None:
            config = ConfigParser()
            config["client"] = {"COT_URL": f"tcp://127.0.0.1:{port}"}
            reader, writer = await pytak.protocol_factory(config["client"])
            writer.write(position("ANDROID-A1", 38.1, 0.0, "tak"))
            await writer.drain()
            deadline = time.monotonic() + 20.0
            while "keepclear.ua-partner" not in seen.uids() or "ua" not in tracks(service, "a-liaison"):
                assert time.monotonic() < deadline, f"got {sorted(seen.uids())}"
                with contextlib.suppress(TimeoutError):
                    seen.feed(await asyncio.wait_for(reader.read(65_536), timeout=0.5))
            writer.close()

        asyncio.run(session())
        returncode = adapter.interrupt()
    assert returncode == 0, adapter.log_text()
    assert "keepclear.ua" not in seen.uids()  # the client's own unit is not echoed back
    assert tracks(service, "a-liaison")["ua"]["lon_deg"] == pytest.approx(38.1)


def test_an_in_adapter_names_the_variable_of_its_picture_key(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("party: a\ncot:\n  ANDROID-A1: ua\n")
    text = "in:\n  - {name: a-tak, mapping: a.yaml, key_env: A_FEED_KEY, listen: ['cot:tcp:0'], picture_key_env: %s}\n"
    good = parse_adapters(text % "A_READ_KEY", "adapters.yaml", tmp_path, {"A_FEED_KEY": "k", "A_READ_KEY": "r"})
    assert good.inputs[0].picture_key_env == "A_READ_KEY"
    with pytest.raises(ValidationError) as caught:
        parse_adapters(text % "UNSET", "adapters.yaml", tmp_path, {"A_FEED_KEY": "k"})
    assert "in[0].picture_key_env: the environment variable 'UNSET' is not set" in "\n".join(caught.value.problems)


def test_as_a_client_of_a_tak_server_keepclear_says_who_it_is_then_sends_the_picture(service: Service) -> None:
    """``--connect cot:takserver:8088`` with a picture key: the connection to the server carries the
    server's positions in and the party's picture out, preceded by keepclear's presence (a stale
    contact, as a TAK client introduces itself, so a server routing by sender serves it)."""
    with service.client("a-feed") as a_feed:
        report = {"unit_id": "ua-partner", "time": format_utc(time.time()), "lat_deg": 35.0, "lon_deg": 38.0}
        assert a_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    server = socket.create_server(("127.0.0.1", 0))
    stats = Stats()
    clients = Clients()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n")
    endpoint = Endpoint("cot", "connect", "127.0.0.1", server.getsockname()[1])
    gateway = Gateway(mapping, decoders(), [endpoint], poster.offer, stats, clients=clients)
    picture = CotOut(service.url, service.keys["a-liaison"], "a", [], stats, interval_s=0.5, clients=clients)
    stop = threading.Event()
    worker = threading.Thread(target=picture.run, args=(stop,), daemon=True)
    poster.start()
    gateway.start()
    worker.start()
    seen = Picture("xml")
    try:
        server.settimeout(20)
        conn, _ = server.accept()
        with conn:
            conn.settimeout(20)
            while "keepclear.ua-partner" not in seen.uids():
                seen.feed(conn.recv(65_536))
            conn.sendall(position("ANDROID-A1", 38.2, 0.0, "xml"))  # a TAK user's position, relayed by the server
            wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua through the server's connection")
    finally:
        stop.set()
        picture.wake()
        worker.join(timeout=15)
        picture.close()
        gateway.stop()
        poster.stop()
        server.close()
    assert seen.events[0][:2] == ("keepclear.a", "a-f-G-U-C")  # who it is, first
    assert tracks(service, "a-liaison")["ua"]["lon_deg"] == pytest.approx(38.2)


def test_a_client_that_does_not_read_its_picture_is_closed_and_counted() -> None:
    """The picture written to a connection whose client does not read waits in its socket's buffer:
    past ``max_buffer_bytes`` the connection is closed, now counted where /v1/metrics shows it
    (``interop_<adapter>_closed_slow``), not only in an attribute nothing read."""

    class Stuck:
        """A transport whose client never reads: everything written waits."""

        waiting = 0

        def get_write_buffer_size(self) -> int:
            return self.waiting

    class Writer:
        def __init__(self) -> None:
            self.transport = Stuck()
            self.closed = False

        def is_closing(self) -> bool:
            return self.closed

        def write(self, data: bytes) -> None:
            self.transport.waiting += len(data)

        def close(self) -> None:
            self.closed = True

    stats = Stats()
    clients = Clients(max_buffer_bytes=1_000, stats=stats)
    loop = asyncio.new_event_loop()
    try:
        writer = Writer()
        clients.add(loop, writer, "xml", "client 1")  # type: ignore[arg-type]
        for _ in range(3):
            clients.send([b"<event>" + b"x" * 600 + b"</event>"])
            loop.run_until_complete(asyncio.sleep(0))
    finally:
        loop.close()
    assert writer.closed and clients.count() == 0
    assert writer.transport.waiting <= 1_000 + 700  # what passed the bound was never written
    assert stats.snapshot()["closed_slow"] == 1 and clients.closed_slow == 1
