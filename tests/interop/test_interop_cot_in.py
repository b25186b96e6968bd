"""CoT in: TAK clients' events over real TCP and UDP sockets become track reports of mapped units,
through /v1/tracks with a feed key; bad input is counted and skipped, never fatal."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from types import ModuleType

import pytest
from apisupport import Service
from interopsupport import pytak_send, tracks, wait_for

from keepclear.interop.cot import decode_event, event_xml
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import IdKind, parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster

MAPPING = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n  ANDROID-A2: ua-partner\n  ANDROID-B1: ub\n")


@pytest.fixture
def cot_gateway(service: Service) -> Iterator[tuple[Gateway, Stats]]:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    endpoints = [Endpoint.parse(text, ("cot",)) for text in ("cot:tcp:0", "cot:udp:0")]
    gateway = Gateway(MAPPING, decoders(), endpoints, poster.offer, stats)
    poster.start()
    with gateway:
        yield gateway, stats
    poster.stop()


def test_events_over_tcp_and_udp_become_tracks_and_bad_input_is_counted(
    service: Service, cot_gateway: tuple[Gateway, Stats], pytak: ModuleType
) -> None:
    gateway, stats = cot_gateway
    tcp_port, udp_port = gateway.ports
    now_s = time.time()
    # ATAK reports course and speed in <track>: 90 degrees at 200 m/s is due east.
    moving = event_xml(
        uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=38.0, lon_deg=-2.5,
        hae_m=7000.0, course_deg=90.0, speed_mps=200.0,
    )  # fmt: skip
    garbage = b"<event uid='x' type='a-f-G'><point lat='north'/></event>"
    chat = event_xml(uid="GeoChat.1", cot_type="b-t-f", time_s=now_s, stale_s=now_s + 60, lat_deg=0, lon_deg=0)
    stranger = pytak.gen_cot(lat=38.1, lon=-2.4, hae=100, uid="ANDROID-Z9", cot_type="a-f-G", stale=60)
    bravo = pytak.gen_cot(lat=38.2, lon=-2.3, hae=100, uid="ANDROID-B1", cot_type="a-f-A", stale=60)
    with socket.create_connection(("127.0.0.1", tcp_port)) as conn:
        stream = moving + garbage + chat + stranger + bravo
        for cut in range(0, len(stream), 97):  # one event split over several reads
            conn.sendall(stream[cut : cut + 97])
            time.sleep(0.001)
    pytak_send(  # a TAK client's UDP output, through pytak's own client
        pytak,
        f"udp+wo://127.0.0.1:{udp_port}",
        [pytak.gen_cot(lat=38.3, lon=-2.2, hae=5, uid="ANDROID-A2", cot_type="a-f-G", stale=60)],
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.sendto(b"<event>no end", ("127.0.0.1", udp_port))

    def both_seen() -> dict[str, dict[str, object]] | None:
        found = tracks(service, "a-liaison")
        return found if {"ua", "ua-partner"} <= set(found) else None

    seen = wait_for(both_seen, what="tracks")
    assert seen["ua"]["lat_deg"] == pytest.approx(38.0)
    assert seen["ua"]["alt_m"] == pytest.approx(7000.0)
    assert seen["ua"]["vel_east_mps"] == pytest.approx(200.0)
    assert abs(seen["ua"]["vel_north_mps"]) < 1e-6
    assert seen["ua-partner"]["lat_deg"] == pytest.approx(38.3)
    counts = wait_for(lambda: stats.snapshot() if stats.snapshot()["refused"] else None, what="the refusal")
    # B's unit in A's mapping is refused by the service: A's feed key reports A's units only.
    assert "ub" not in tracks(service, "a-liaison") and "ub" not in tracks(service, "b-liaison")
    assert counts["malformed"] == 2  # the bad point, and the datagram without </event>
    assert counts["unmapped"] == 1  # ANDROID-Z9: refused, not created
    assert counts["ignored"] == 1  # the chat message carries no position
    assert counts["accepted"] == 2 and counts["refused"] == 1


def test_hostile_xml_and_endless_data_are_skipped_and_the_listener_keeps_serving(
    service: Service, cot_gateway: tuple[Gateway, Stats]
) -> None:
    gateway, stats = cot_gateway
    tcp_port = gateway.ports[0]
    bomb = b'<?xml version="1.0"?><!DOCTYPE e [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><event>&b;</event>'
    with socket.create_connection(("127.0.0.1", tcp_port)) as conn:
        conn.sendall(bomb)
        conn.sendall(b"<event " + b"x" * 70_000)  # no end within the 64 KiB bound
        time.sleep(0.3)
    now_s = time.time()
    with socket.create_connection(("127.0.0.1", tcp_port)) as conn:
        conn.sendall(
            event_xml(uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=37.5, lon_deg=-1.0)
        )
    wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua after the garbage")
    counts = stats.snapshot()
    assert counts["malformed"] == 1 and counts["oversized"] == 1


def test_decode_event_reads_cot_fields() -> None:
    found = decode_event(
        b'<event version="2.0" uid="U" type="a-h-S" time="2026-01-01T00:00:00Z" start="2026-01-01T00:00:00Z"'
        b' stale="2026-01-01T00:01:00Z" how="m-g"><point lat="10" lon="20" hae="9999999.0" ce="1" le="1"/>'
        b'<detail><track course="180" speed="5"/></detail></event>'
    )
    assert found is not None
    assert (found.kind, found.external_id, found.alt_m) == (IdKind.COT, "U", 0.0)  # unknown hae -> 0
    assert found.vel_north_mps == pytest.approx(-5.0) and abs(found.vel_east_mps) < 1e-9
    for bad, reason in (
        (b"<evnt/>", "not <event>"),
        (b'<event type="a-f-G" uid="U" time="2026-01-01T00:00:00"><point lat="1" lon="2"/></event>', "no time zone"),
        (b'<event type="a-f-G" uid="U" time="2026-01-01T00:00:00Z"><point lat="91" lon="2"/></event>', "outside"),
        (b'<event type="a-f-G" uid="U" time="2026-01-01T00:00:00Z"></event>', "no <point>"),
        (b'<!DOCTYPE e [<!ENTITY x SYSTEM "file:///etc/passwd">]><event uid="&x;"/>', "refused XML construct"),
        (b'<event uid="&x;" type="a-f-G"/>', "not well-formed"),  # an entity nobody declared
    ):
        with pytest.raises(ValueError, match=reason):
            decode_event(bad)
