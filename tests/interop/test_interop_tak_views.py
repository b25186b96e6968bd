"""CoT out beyond tracks and alerts: activities as shapes with their window, the party's hotline
threads as GeoChat in its language, an alert acknowledged from TAK by GeoChat, and TLS targets with a
client certificate."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import pytest
from apisupport import Service
from interopsupport import pytak_send, wait_for, write_certificate

from keepclear.domain.timefmt import format_utc
from keepclear.interop.ack import Acknowledger, alert_of
from keepclear.interop.cot import Chat, decode_chat, split_events
from keepclear.interop.cot_out import CotOut, Target
from keepclear.interop.gateway import Endpoint, Gateway, client_tls
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.tak_views import geochat_event

SQUARE = [[[36.0, 35.0], [36.2, 35.0], [36.2, 35.2], [36.0, 35.2], [36.0, 35.0]]]


def events_on(sock: socket.socket) -> list[Element]:
    sock.settimeout(0.5)
    out = []
    while True:
        try:
            out.append(SafeET.fromstring(sock.recvfrom(65536)[0]))
        except TimeoutError:
            return out


@pytest.fixture
def udp_tak() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield sock
    sock.close()


def out_for(service: Service, who: str, party: str, sock: socket.socket) -> CotOut:
    return CotOut(service.url, service.keys[who], party, [Target("udp", "127.0.0.1", sock.getsockname()[1])], Stats())


def test_activities_are_shapes_with_their_window_for_the_parties_that_see_them(
    service: Service, udp_tak: socket.socket
) -> None:
    now = time.time()
    body: dict[str, Any] = {
        "kind": "air-operation", "start": format_utc(now + 30 * 3600), "end": format_utc(now + 34 * 3600),
        "addressees": ["b"], "units": ["ua"], "share_units": False, "contact": "Alpha duty", "text": "Strike package",
        "volumes": [
            {"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 15000, "upper_ft": 30000},
            {"circle": {"lat": 35.5, "lon": 36.5, "radius_m": 5000}, "lower_ft": 0, "upper_ft": 10000},
        ],
    }  # fmt: skip
    with service.client("a-liaison") as a:
        created = a.post("/v1/activities", json=body)
        assert created.status_code == 201, created.text
        activity_id = created.json()["activity"]["id"]
    for who, party in (("b-liaison", "b"), ("a-observer", "a")):
        out = out_for(service, who, party, udp_tak)
        try:
            out.cycle()
        finally:
            out.close()
        shapes = {e.get("uid"): e for e in events_on(udp_tak) if e.get("type") == "u-d-f"}
        polygon = shapes[f"keepclear.activity.{activity_id}.v0"]
        circle = shapes[f"keepclear.activity.{activity_id}.v1"]
        assert len(polygon.findall("detail/link")) == 5 and len(circle.findall("detail/link")) == 37
        remarks = polygon.findtext("detail/remarks") or ""
        assert body["start"] in remarks and body["end"] in remarks and "15000-30000 ft" in remarks
        mark = polygon.find("detail/__keepclear")
        assert mark is not None and (mark.get("start"), mark.get("end")) == (body["start"], body["end"])


def test_hotline_threads_reach_tak_as_geochat_in_the_partys_language(service: Service, udp_tak: socket.socket) -> None:
    thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
    with service.client("a-liaison") as a:
        posted = a.post(
            f"/v1/hotline/threads/{thread_id}/messages",
            json={"kind": "query", "idempotency_key": "tak-geochat-0001",
                  "phrase": {"code": "HOLDPOS", "params": {"unit": "BRAVO1"}}},
        )  # fmt: skip
        assert posted.status_code == 201, posted.text
    texts = {}
    for who, party in (("a-liaison", "a"), ("b-liaison", "b")):
        out = out_for(service, who, party, udp_tak)
        try:
            out.cycle()
            out.cycle()  # nothing new: nothing sent again
        finally:
            out.close()
        chats = [e for e in events_on(udp_tak) if e.get("type") == "b-t-f"]
        assert len(chats) == 1
        chat = chats[0].find("detail/__chat")
        assert chat is not None and chat.get("id") == f"keepclear.thread.{thread_id}"
        assert (chat.get("senderCallsign") or "").split()[0] == "a"
        texts[party] = chats[0].findtext("detail/remarks") or ""
    assert "BRAVO1" in texts["a"] and "BRAVO1" in texts["b"]
    assert any("а" <= ch <= "я" for ch in texts["b"].lower()) and not any("а" <= ch <= "я" for ch in texts["a"].lower())


def test_geochat_round_trips_and_ack_text_names_the_alert() -> None:
    event = geochat_event(
        {
            "thread_id": "t1",
            "seq": 3,
            "sender_party": "a",
            "sender_person": "Maj. X",
            "text": "ACK al-7",
            "time_s": 5.0,
        },
        {"id": "t1", "title": "a-b"},
        10.0,
        60.0,
    )
    assert decode_chat(event) == Chat("keepclear.hotline.a", "a Maj. X", "ACK al-7")
    assert [alert_of(t) for t in ("ACK al-7", " ack keepclear.alert.al-7 ", "ACKNOWLEDGED", "ACK")] == [
        "al-7", "al-7", None, None,
    ]  # fmt: skip


def tak_chat(sender_uid: str, text: str) -> bytes:
    """A GeoChat message as ATAK sends it to a chat room."""
    now = time.time()
    return (
        f'<event version="2.0" uid="GeoChat.{sender_uid}.All Chat Rooms.{now}" type="b-t-f" how="h-g-i-g-o" '
        f'time="{format_utc(now)}" start="{format_utc(now)}" stale="{format_utc(now + 60)}">'
        '<point lat="0" lon="0" hae="9999999" ce="9999999" le="9999999"/><detail>'
        f'<__chat parent="RootContactGroup" chatroom="All Chat Rooms" id="All Chat Rooms" senderCallsign="ALPHA6">'
        f'<chatgrp uid0="{sender_uid}" uid1="All Chat Rooms" id="All Chat Rooms"/></__chat>'
        f'<link uid="{sender_uid}" type="a-f-G-U-C" relation="p-p"/>'
        f'<remarks source="BAO.F.ATAK.{sender_uid}" to="All Chat Rooms">{text}</remarks></detail></event>'
    ).encode()


def test_an_alert_is_acknowledged_from_tak_by_an_allowed_user_only(service: Service, pytak: ModuleType) -> None:
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
        alert = wait_for(lambda: a.get("/v1/alerts").json(), what="the alert")[0]
    stats = Stats()
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\nacknowledge: [ANDROID-A1]\n")
    acker = Acknowledger(service.url, service.keys["a-liaison"], mapping.acknowledgers, stats)
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    gateway = Gateway(mapping, decoders(on_chat=acker.on_chat), [Endpoint("cot", "tcp", "127.0.0.1", 0)], poster.offer,
                      stats)  # fmt: skip
    poster.start()
    gateway.start()
    try:
        url = f"tcp://127.0.0.1:{gateway.ports[0]}"
        pytak_send(pytak, url, [tak_chat("ANDROID-Z9", f"ACK {alert['alert_id']}")])  # not allowed
        wait_for(lambda: stats.snapshot()["acks_refused"], what="the refused ACK")
        pytak_send(pytak, url, [tak_chat("ANDROID-A1", "hello"), tak_chat("ANDROID-A1", f"ACK {alert['alert_id']}")])
        wait_for(lambda: stats.snapshot()["acks"], what="the ACK")
        acker.join()
    finally:
        gateway.stop()
        poster.stop()
    with service.client("b-liaison") as b:
        [seen] = [x for x in b.get("/v1/alerts").json() if x["alert_id"] == alert["alert_id"]]
    assert seen["acknowledged_by"] == ["a"]
    assert stats.snapshot()["acks_refused"] == 1 and stats.snapshot()["malformed"] == 0


class TlsCollector:
    """A TAK server's TLS input (8089) that requires a client certificate; keeps the CoT it receives."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.context = context
        self.events: list[bytes] = []
        self.peer_subject: Any = None
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        raw, _ = self.listener.accept()
        with self.context.wrap_socket(raw, server_side=True) as conn:
            self.peer_subject = conn.getpeercert()["subject"]
            buffer = bytearray()
            while chunk := conn.recv(65536):
                buffer += chunk
                self.events += split_events(buffer)


def test_a_tls_target_gets_the_picture_with_a_client_certificate(service: Service, tmp_path: Path) -> None:
    ca = write_certificate(tmp_path, "ca", None, ca=True)
    write_certificate(tmp_path, "takserver", ca)
    write_certificate(tmp_path, "keepclear-a", ca)
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(tmp_path / "ca.pem"))
    server.load_cert_chain(tmp_path / "takserver.pem", tmp_path / "takserver.key")
    server.verify_mode = ssl.CERT_REQUIRED
    collector = TlsCollector(server)
    context = client_tls(str(tmp_path / "keepclear-a.pem"), str(tmp_path / "keepclear-a.key"), str(tmp_path / "ca.pem"))
    with service.client("a-feed") as feed:
        report = {"unit_id": "ua", "time": format_utc(time.time()), "lat_deg": 36.0, "lon_deg": 2.0, "alt_m": 100.0}
        assert feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    service.runtime.pump()
    stats = Stats()
    out = CotOut(service.url, service.keys["a-liaison"], "a", [Target.parse(f"tls://127.0.0.1:{collector.port}")],
                 stats, tls=context)  # fmt: skip
    try:
        out.cycle()
        wait_for(lambda: any(b'uid="keepclear.ua"' in e for e in collector.events), what="ua over TLS")
    finally:
        out.close()
        collector.listener.close()
    assert stats.snapshot()["send_errors"] == 0 and collector.peer_subject is not None


def test_control_characters_a_party_sends_never_break_another_partys_tak_picture(service: Service) -> None:
    """XML 1.0 has no character for most controls (U+0001, U+000B, ESC): the API keeps them in a
    message or an activity's text, and the CoT written for the other party held them as they were.
    Its TAK clients got events no XML reader takes, and a TAK protocol target none at all: writing
    the picture failed on them each cycle (activities, zones, tracks and alerts alike, for as long
    as the activity lived). Each such character is now written as U+FFFD."""
    thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
    text = "Strike\x0bpackage\x01 \x1b[8m"
    with service.client("a-liaison") as a:
        posted = a.post(
            f"/v1/hotline/threads/{thread_id}/messages",
            json={"kind": "text", "body": text, "idempotency_key": "tak-controls-0001"},
        )
        assert posted.status_code == 201, posted.text
        body: dict[str, Any] = {
            "kind": "air-operation", "start": format_utc(time.time() + 30 * 3600),
            "end": format_utc(time.time() + 34 * 3600), "addressees": ["b"], "contact": "Alpha duty", "text": text,
            "volumes": [{"geometry": {"type": "Polygon", "coordinates": SQUARE}, "lower_ft": 0, "upper_ft": 9000}],
        }  # fmt: skip
        assert a.post("/v1/activities", json=body).status_code == 201
    xml_sock, tak_sock = (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM),
    )
    for sock in (xml_sock, tak_sock):
        sock.bind(("127.0.0.1", 0))
    targets = [
        Target("udp", "127.0.0.1", xml_sock.getsockname()[1]),
        Target("udp", "127.0.0.1", tak_sock.getsockname()[1], "tak"),
    ]
    out = CotOut(service.url, service.keys["b-liaison"], "b", targets, Stats())
    try:
        out.cycle()
    finally:
        out.close()
        tak_sock.close()
    try:
        events = events_on(xml_sock)  # each one parsed by an XML reader
    finally:
        xml_sock.close()
    chat = next(e for e in events if e.get("type") == "b-t-f")
    assert chat.findtext("detail/remarks") == "Strike\ufffdpackage\ufffd \ufffd[8m"
    shapes = [e for e in events if e.get("type") == "u-d-f" and "activity" in (e.get("uid") or "")]
    assert shapes and "Strike\ufffdpackage" in (shapes[0].findtext("detail/remarks") or "")
