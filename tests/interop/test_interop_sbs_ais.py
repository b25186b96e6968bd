"""SBS-1 (ADS-B receivers) and AIS NMEA (pyais) in: decoded, mapped, posted through real sockets."""

from __future__ import annotations

import math
import socket
from collections.abc import Iterator

import pytest
from apisupport import Service
from hypothesis import given, settings
from hypothesis import strategies as st
from interopsupport import Receiver, tracks, wait_for
from pyais import NMEAMessage, encode_dict

from keepclear.interop.ais import KT_MPS, AisDecoder, position_fast
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import IdKind, parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.sbs import FPM_MPS, FT_M, SbsDecoder

#: A recorded AIS sentence (type 1, MMSI 367380120, San Francisco): the example of pyais' documentation.
RECORDED_AIS = b"!AIVDM,1,1,,B,15NG6V0P01G?cFhE`R2IU?wn28R>,0*05"


def sbs(kind: int, icao: str, **fields: object) -> bytes:
    """An SBS-1 MSG line as dump1090 writes it (22 fields)."""
    row = ["MSG", str(kind), "1", "1", icao, "1", "2026/12/03", "09:00:00.000", "2026/12/03", "09:00:00.000"]
    row += [""] * 12
    for index, value in {11: "alt", 12: "gs", 13: "track", 14: "lat", 15: "lon", 16: "vrate"}.items():
        if value in fields:
            row[index] = str(fields[value])
    return ",".join(row).encode()


def test_sbs_combines_velocity_and_position_per_address() -> None:
    decoder = SbsDecoder()
    assert decoder.decode(sbs(4, "3c6444", gs=400, track=90, vrate=-640), 100.0) == []
    assert decoder.decode(b"STA,,5,179,400AE7,10103,2008/11/28,14:58:51.153,,,RM", 100.0) == []
    [seen] = decoder.decode(sbs(3, "3C6444", alt=30000, lat=51.5, lon=-0.1), 101.0)
    assert (seen.kind, seen.external_id) == (IdKind.ICAO, "3C6444")
    assert seen.alt_m == pytest.approx(30000 * FT_M)
    assert seen.vel_east_mps == pytest.approx(400 * KT_MPS) and abs(seen.vel_north_mps) < 1e-9
    assert seen.vel_up_mps == pytest.approx(-640 * FPM_MPS)
    # Velocity older than 30 s is not used; the last altitude is.
    [later] = decoder.decode(sbs(3, "3C6444", lat=51.6, lon=-0.1), 140.0)
    assert (later.vel_east_mps, later.alt_m) == (0.0, pytest.approx(30000 * FT_M))
    for bad, reason in (
        (b"HELLO,1,2", "not an SBS message type"),
        (sbs(3, "XYZ", lat=1, lon=2), "hex ident"),
        (sbs(3, "3C6444", lat="north", lon=2), "field 15 'north' is not a number"),
        (sbs(3, "3C6444", lat=95, lon=2), "outside"),
        (b"MSG,3,1", "at least 17"),
    ):
        with pytest.raises(ValueError, match=reason):
            decoder.decode(bad, 150.0)


def test_ais_positions_static_data_and_bad_sentences() -> None:
    decoder = AisDecoder()
    [recorded] = decoder.decode(RECORDED_AIS, 5.0)
    assert recorded.external_id == "367380120"
    assert (recorded.lat_deg, recorded.lon_deg) == (pytest.approx(37.806948), pytest.approx(-122.404333))
    line = encode_dict({"type": 18, "mmsi": 211234560, "lat": 54.5, "lon": 10.2, "speed": 10.0, "course": 180.0})
    [ship] = decoder.decode(line[0].encode(), 5.0)
    assert ship.vel_north_mps == pytest.approx(-10.0 * KT_MPS, rel=1e-3) and abs(ship.vel_east_mps) < 1e-6
    # Type 5 comes in two sentences: held until complete, then read and ignored (no position).
    first, second = encode_dict({"type": 5, "mmsi": 211234560, "shipname": "ALPHA"}, seq_id=3)
    assert decoder.decode(first.encode(), 5.0) == [] and decoder.decode(second.encode(), 5.0) == []
    unavailable = encode_dict({"type": 1, "mmsi": 211234560, "lat": 91, "lon": 181})[0]
    assert decoder.decode(unavailable.encode(), 5.0) == []
    for bad, reason in ((b"hello", "Invalid"), (RECORDED_AIS[:-1] + b"6", "checksum")):
        with pytest.raises(ValueError, match=reason):
            decoder.decode(bad, 5.0)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    lines = [
        sbs(4, "3C6444", gs=300, track=0, vrate=0),
        b"MSG,3,garbage",
        sbs(3, "3C6444", alt=20000, lat=36.0, lon=2.0),
        sbs(3, "ABCDEF", alt=1000, lat=36.0, lon=2.1),  # not mapped
    ]
    found = Receiver(b"\r\n".join(lines) + b"\r\n")
    yield found
    found.listener.close()


def test_sbs_receiver_and_ais_udp_become_tracks(service: Service, receiver: Receiver) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    mapping = parse_mapping("party: a\nicao:\n  3C6444: ua\nmmsi:\n  211234560: ship-a\n")
    endpoints = [
        Endpoint.parse(f"sbs:connect:127.0.0.1:{receiver.port}", ("sbs",)),
        Endpoint("ais", "udp", "127.0.0.1", 0),
    ]
    gateway = Gateway(mapping, decoders(), endpoints, poster.offer, stats)
    poster.start()
    gateway.start()
    try:
        ais = encode_dict({"type": 1, "mmsi": 211234560, "lat": 36.2, "lon": 2.3, "speed": 15.0, "course": 90.0})
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(ais[0].encode() + b"\r\n" + RECORDED_AIS, ("127.0.0.1", gateway.ports[1]))

        def both() -> dict[str, dict[str, float]] | None:
            seen = tracks(service, "a-liaison")
            return seen if {"ua", "ship-a"} <= set(seen) else None

        seen = wait_for(both, what="ua and ship-a")
    finally:
        gateway.stop()
        poster.stop()
    assert seen["ua"]["alt_m"] == pytest.approx(20000 * FT_M)
    assert seen["ua"]["vel_north_mps"] == pytest.approx(300 * KT_MPS)
    assert seen["ship-a"]["vel_east_mps"] == pytest.approx(15.0 * KT_MPS, rel=1e-2)
    assert math.isclose(seen["ship-a"]["lat_deg"], 36.2, abs_tol=1e-4)
    counts = stats.snapshot()
    assert counts["malformed"] == 1 and counts["unmapped"] == 2  # ABCDEF and the recorded vessel
    assert counts["accepted"] == 2


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from([1, 2, 3, 18]),
    mmsi=st.integers(0, 999_999_999),
    lat=st.one_of(st.floats(-90, 90), st.just(91.0)),
    lon=st.one_of(st.floats(-180, 180), st.just(181.0)),
    speed=st.one_of(st.floats(0, 102.2), st.just(102.3)),
    course=st.one_of(st.floats(0, 359.9), st.just(360.0)),
)
def test_the_fast_path_reads_position_reports_as_pyais_does(
    kind: int, mmsi: int, lat: float, lon: float, speed: float, course: float
) -> None:
    line = encode_dict({"type": kind, "mmsi": mmsi, "lat": lat, "lon": lon, "speed": speed, "course": course})[0]
    fast = position_fast(line.encode())
    assert fast is not None
    decoded = NMEAMessage(line.encode()).decode()
    assert fast[0] == decoded.mmsi
    assert fast[1] == pytest.approx(decoded.lat, abs=1e-6) and fast[2] == pytest.approx(decoded.lon, abs=1e-6)
    assert (fast[3], fast[4]) == (pytest.approx(decoded.speed), pytest.approx(decoded.course))


def test_the_fast_path_leaves_everything_else_to_pyais() -> None:
    line = encode_dict({"type": 1, "mmsi": 211234560, "lat": 54.5, "lon": 10.2})[0].encode()
    static = encode_dict({"type": 5, "mmsi": 211234560, "shipname": "ALPHA"})[0].encode()
    for other in (line[:-1] + b"0", line.replace(b",0*", b",2*"), static, b"!AIVDM,1,1,,B,1,0*00", b"$GPGGA,1*00"):
        assert position_fast(other) is None
