"""TAK protocol v1 (protobuf): mesh datagrams and a stream, encoded by takproto, become tracks."""

from __future__ import annotations

import socket
import time

import pytest
import takproto
from apisupport import Service
from interopsupport import tracks, wait_for

from keepclear.interop.cot import event_xml
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.takproto_in import TakProtoDecoder, split_tak


def _event(uid: str, lat_deg: float, cot_type: str = "a-f-A") -> bytes:
    now_s = time.time()
    return event_xml(
        uid=uid, cot_type=cot_type, time_s=now_s, stale_s=now_s + 60, lat_deg=lat_deg, lon_deg=2.0, hae_m=500.0,
        course_deg=180.0, speed_mps=50.0,
    )  # fmt: skip


def test_stream_framing_waits_for_whole_messages_and_resyncs_after_garbage() -> None:
    one = bytes(takproto.xml2proto(_event("U1", 10.0).decode(), takproto.TAKProtoVer.STREAM))
    two = bytes(takproto.xml2proto(_event("U2", 11.0).decode(), takproto.TAKProtoVer.STREAM))
    buffer = bytearray(one[:5])
    assert split_tak(buffer) == [] and bytes(buffer) == one[:5]
    buffer += one[5:] + b"junk" + two
    assert split_tak(buffer) == [one, b"junk", two] and not buffer
    decoder = TakProtoDecoder()
    [first] = decoder.decode(one, 0.0)
    assert (first.external_id, first.lat_deg, first.alt_m) == ("U1", 10.0, 500.0)
    assert first.vel_north_mps == pytest.approx(-50.0) and abs(first.time_s - time.time()) < 60
    with pytest.raises(ValueError, match="not a TAK protocol message"):
        decoder.decode(b"junk", 0.0)
    with pytest.raises(ValueError):
        decoder.decode(b"\xbf\x05\xff\xff\xff\xff\xff", 0.0)
    chat = bytes(takproto.xml2proto(_event("GeoChat.x", 0.0, "b-t-f").decode(), takproto.TAKProtoVer.MESH))
    assert decoder.decode(chat, 0.0) == []


def test_mesh_over_udp_and_stream_over_tcp_become_tracks(service: Service) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    gateway = Gateway(
        parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n  ANDROID-A2: ua-partner\n"),
        decoders(),
        [Endpoint.parse("tak:udp:0", ("tak",)), Endpoint.parse("tak:tcp:0", ("tak",))],
        poster.offer,
        stats,
    )
    poster.start()
    gateway.start()
    try:
        mesh = bytes(takproto.xml2proto(_event("ANDROID-A1", 33.0).decode(), takproto.TAKProtoVer.MESH))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(mesh, ("127.0.0.1", gateway.ports[0]))
        stream = bytes(takproto.xml2proto(_event("ANDROID-A2", 34.0, "a-f-G").decode(), takproto.TAKProtoVer.STREAM))
        with socket.create_connection(("127.0.0.1", gateway.ports[1])) as conn:
            conn.sendall(b"\x00\x01garbage" + stream[:7])
            time.sleep(0.05)
            conn.sendall(stream[7:])

        def both() -> dict[str, dict[str, float]] | None:
            seen = tracks(service, "a-liaison")
            return seen if {"ua", "ua-partner"} <= set(seen) else None

        seen = wait_for(both, what="ua and ua-partner")
    finally:
        gateway.stop()
        poster.stop()
    assert seen["ua"]["lat_deg"] == 33.0 and seen["ua-partner"]["lat_deg"] == 34.0
    assert stats.snapshot()["malformed"] == 1
