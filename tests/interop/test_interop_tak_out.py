"""TAK protocol v1 out: a ``tak+udp://`` target gets mesh datagrams and a ``tak+tcp://`` target the
stream form, each decodable by takproto and carrying the same units, alert and zones as the XML
target; TAK protocol v1 GeoChat acknowledges an alert as XML GeoChat does."""

from __future__ import annotations

import socket
import threading
import time
from types import ModuleType
from typing import Any

import defusedxml.ElementTree as SafeET
import pytest
import takproto
from apisupport import Service, import_example_zones
from interopsupport import pytak_send, wait_for
from test_interop_tak_views import tak_chat

from keepclear.domain.timefmt import format_utc
from keepclear.interop.ack import Acknowledger
from keepclear.interop.cot_out import ALERT_TYPE, CotOut, Target
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.takproto_in import split_tak

Content = tuple[str, str, float, float, str, str, str, tuple[str, ...]]


def from_xml(data: bytes) -> Content:
    """What a TAK user sees of an XML event: uid, type, position, callsign, remarks, level, vertices."""
    root = SafeET.fromstring(data)
    point, contact, mark = root.find("point"), root.find("detail/contact"), root.find("detail/__keepclear")
    assert point is not None
    return (
        root.get("uid", ""), root.get("type", ""), round(float(point.get("lat", "")), 6),
        round(float(point.get("lon", "")), 6), "" if contact is None else contact.get("callsign", ""),
        root.findtext("detail/remarks") or "", "" if mark is None else mark.get("level", ""),
        tuple(link.get("point", "") for link in root.iterfind("detail/link")),
    )  # fmt: skip


def from_tak(data: bytes) -> Content:
    """The same of a TAK protocol v1 message, read from its typed fields and its ``xmlDetail``."""
    message: Any = takproto.parse_proto(bytearray(data))
    event = message.cotEvent
    detail = SafeET.fromstring(f"<detail>{event.detail.xmlDetail}</detail>")
    mark = detail.find("__keepclear")
    return (
        event.uid, event.type, round(event.lat, 6), round(event.lon, 6), event.detail.contact.callsign,
        detail.findtext("remarks") or "", "" if mark is None else mark.get("level", ""),
        tuple(link.get("point", "") for link in detail.iterfind("link")),
    )  # fmt: skip


class StreamCollector:
    """A TCP server standing for a TAK server's protobuf input: keeps every whole stream message."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.messages: list[bytes] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        conn, _ = self.listener.accept()
        buffer = bytearray()
        with conn:
            while chunk := conn.recv(65536):
                buffer += chunk
                self.messages += split_tak(buffer)

    def close(self) -> None:
        self.listener.close()


def datagrams(sock: socket.socket) -> list[bytes]:
    out = []
    sock.settimeout(0.5)
    while True:
        try:
            out.append(sock.recvfrom(65536)[0])
        except TimeoutError:
            return out


def converge(service: Service) -> dict[str, Any]:
    """ua (a) and ub (b) head on, 40 km apart: an alert both parties see."""
    now = time.time()
    reports = [
        {"unit_id": "ua", "time": format_utc(now), "lat_deg": 38.0, "lon_deg": 0.0, "alt_m": 9000.0,
         "vel_north_mps": 220.0},
        {"unit_id": "ub", "time": format_utc(now), "lat_deg": 38.44, "lon_deg": 0.0, "alt_m": 9000.0,
         "vel_north_mps": -220.0},
    ]  # fmt: skip
    for who, report in (("a-feed", reports[0]), ("b-feed", reports[1])):
        with service.client(who) as feed:
            assert feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    service.runtime.pump()
    with service.client("a-liaison") as a:
        alert: dict[str, Any] = wait_for(lambda: a.get("/v1/alerts").json(), what="the alert")[0]
    return alert


def test_targets_name_the_protocol() -> None:
    assert Target.parse("tak+udp://239.2.3.1:6969") == Target("udp", "239.2.3.1", 6969, "tak")
    assert Target.parse("tak+tls://takserver:8089") == Target("tls", "takserver", 8089, "tak")
    assert Target.parse("tcp://x:1").protocol == "xml" and str(Target.parse("tak+tcp://x:1")) == "tak+tcp://x:1"
    for bad in ("xml+udp://x:1", "tak+http://x:1", "tak+://x:1"):
        with pytest.raises(ValueError, match="tak\\+udp://"):
            Target.parse(bad)


def test_tak_protocol_targets_get_the_same_picture_as_the_xml_target(service: Service) -> None:
    import_example_zones(service.deployment)
    alert = converge(service)
    xml_sock, mesh_sock = (socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(2))
    for sock in (xml_sock, mesh_sock):
        sock.bind(("127.0.0.1", 0))
    stream = StreamCollector()
    stats = Stats()
    out_a = CotOut(
        service.url,
        service.keys["a-liaison"],
        "a",
        [
            Target.parse(f"udp://127.0.0.1:{xml_sock.getsockname()[1]}"),
            Target.parse(f"tak+udp://127.0.0.1:{mesh_sock.getsockname()[1]}"),
            Target.parse(f"tak+tcp://127.0.0.1:{stream.port}"),
        ],
        stats,
    )
    try:
        sent = out_a.cycle()
        xml = [from_xml(d) for d in datagrams(xml_sock)]
        mesh_raw = datagrams(mesh_sock)
        wait_for(lambda: len(stream.messages) >= sent, what="the stream messages")
    finally:
        out_a.close()
        xml_sock.close()
        mesh_sock.close()
        stream.close()
    assert all(d[:3] == b"\xbf\x01\xbf" for d in mesh_raw)  # mesh datagrams
    assert all(m[0] == 0xBF and m[1:3] != b"\x01\xbf" for m in stream.messages)  # the stream form
    mesh = [from_tak(d) for d in mesh_raw]
    streamed = [from_tak(m) for m in stream.messages]
    assert len(xml) == sent and mesh == xml and streamed == xml
    by_uid = {c[0]: c for c in mesh}
    cot_alert = by_uid[f"keepclear.alert.{alert['alert_id']}"]
    assert cot_alert[1] == ALERT_TYPE and cot_alert[6] == alert["level"] and alert["level"] in cot_alert[5]
    assert by_uid["keepclear.ub"][1] == "a-u-A"  # B's unit, inside the alert
    assert len(by_uid["keepclear.zone.eastern-ghouta"][7]) == 6  # a zone's ring, vertex by vertex
    assert stats.snapshot()["send_errors"] == 0


def test_tak_protocol_geochat_acknowledges_an_alert(service: Service, pytak: ModuleType) -> None:
    alert = converge(service)
    stats = Stats()
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\nacknowledge: [ANDROID-A1]\n")
    acker = Acknowledger(service.url, service.keys["a-liaison"], mapping.acknowledgers, stats)
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    gateway = Gateway(
        mapping, decoders(on_chat=acker.on_chat), [Endpoint("tak", "tcp", "127.0.0.1", 0)], poster.offer, stats
    )
    poster.start()
    gateway.start()
    try:
        chat = bytes(
            takproto.xml2proto(tak_chat("ANDROID-A1", f"ACK {alert['alert_id']}"), takproto.TAKProtoVer.STREAM)
        )
        pytak_send(pytak, f"tcp://127.0.0.1:{gateway.ports[0]}", [chat])
        wait_for(lambda: stats.snapshot()["acks"], what="the ACK")
        acker.join()
    finally:
        gateway.stop()
        poster.stop()
    with service.client("b-liaison") as b:
        [seen] = [x for x in b.get("/v1/alerts").json() if x["alert_id"] == alert["alert_id"]]
    assert seen["acknowledged_by"] == ["a"] and stats.snapshot()["malformed"] == 0
