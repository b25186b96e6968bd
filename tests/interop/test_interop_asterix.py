"""ASTERIX CAT021 (ADS-B) and CAT062 (system tracks) through asterix-decoder: generated records, the
recording asterix-decoder ships, bad blocks counted and skipped, and a UDP feed into a real service."""

from __future__ import annotations

import socket
from importlib.resources import files

import pytest
from apisupport import Service
from asterixrecords import block, cat021, cat062
from interopsupport import tracks, wait_for

from keepclear.interop.asterix_in import AsterixDecoder, split_blocks
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import IdKind, parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.sbs import FPM_MPS, FT_M, KT_MPS

#: A recording of a CAT062 system-track feed and its CAT065 end-of-batch message, shipped with
#: asterix-decoder (GPL-2.0, as the package) and read from the installed package, not copied here.
RECORDED = files("asterix") / "sample_data" / "cat062cat065.raw"


def test_cat021_reports_give_position_flight_level_and_velocity() -> None:
    records = [
        cat021("3c6444", 51.5, -0.1, flight_level=300, ground_speed_kt=400, track_deg=90, vrate_fpm=-640),
        cat021("ABCDEF", 51.6, -0.2, simulated=True),  # a simulated target: read and ignored
    ]
    [seen] = AsterixDecoder().decode(block(21, records), 7.0)
    assert (seen.kind, seen.external_id, seen.time_s) == (IdKind.ICAO, "3C6444", 7.0)
    assert (seen.lat_deg, seen.lon_deg) == (pytest.approx(51.5, abs=1e-6), pytest.approx(-0.1, abs=1e-6))
    assert seen.alt_m == pytest.approx(30000 * FT_M)
    assert seen.vel_east_mps == pytest.approx(400 * KT_MPS, rel=1e-3) and abs(seen.vel_north_mps) < 1e-6
    assert seen.vel_up_mps == pytest.approx(-640 * FPM_MPS, rel=0.01)
    [bare] = AsterixDecoder().decode(block(21, [cat021("3C6444", 10.0, 20.0)]), 7.0)
    assert (bare.alt_m, bare.vel_east_mps, bare.vel_up_mps) == (0.0, 0.0, 0.0)


def test_cat062_tracks_with_an_address_become_observations() -> None:
    records = [
        cat062(12, 44.7, 13.04, address="3C0A55", vel_east_mps=-51.25, vel_north_mps=170.0, measured_fl=157,
               rate_of_climb_fpm=-443.75),
        cat062(13, 44.8, 13.1),  # a primary-only track without an address: nothing to map it by
        cat062(14, 44.9, 13.2, address="4840D6", simulated=True),
    ]  # fmt: skip
    [seen] = AsterixDecoder().decode(block(62, records), 3.0)
    assert seen.external_id == "3C0A55"
    assert (seen.lat_deg, seen.lon_deg) == (pytest.approx(44.7, abs=1e-5), pytest.approx(13.04, abs=1e-5))
    assert (seen.vel_east_mps, seen.vel_north_mps) == (-51.25, 170.0)
    assert seen.alt_m == pytest.approx(15700 * FT_M)
    assert seen.vel_up_mps == pytest.approx(-443.75 * FPM_MPS)


def test_the_recording_asterix_decoder_ships_becomes_one_track() -> None:
    decoder = AsterixDecoder()
    buffer = bytearray(RECORDED.read_bytes())
    blocks = split_blocks(buffer)
    assert [b[0] for b in blocks] == [62, 65] and not buffer
    seen = [o for b in blocks for o in decoder.decode(b, 1.0)]
    assert [o.external_id for o in seen] == ["3C0A55"]  # the other track has no address; CAT065 is ignored
    assert (seen[0].lat_deg, seen[0].lon_deg) == (pytest.approx(45.4008, abs=1e-4), pytest.approx(15.1332, abs=1e-4))
    assert (seen[0].vel_east_mps, seen[0].vel_north_mps) == (141.5, -170.75)


def test_bad_blocks_raise_value_errors_and_a_bad_length_gives_up_the_rest() -> None:
    decoder = AsterixDecoder()
    good = block(62, [cat062(12, 44.7, 13.04, address="3C0A55")])
    cut = good[:20]
    for bad, reason in (
        (b"\x3e\x00", "shorter than"),
        (good[:3] + good[3:-1], "says it has"),
        (bytes([62]) + len(cut).to_bytes(2, "big") + cut[3:], "record 1 does not decode"),
        (bytes([21, 0, 5, 0xFF, 0xFF]), "does not decode"),
    ):
        with pytest.raises(ValueError, match=reason):
            decoder.decode(bad, 1.0)
    buffer = bytearray(good + b"\x15\x00\x01junk" + good)
    assert split_blocks(buffer) == [good, b"\x15\x00\x01junk" + good] and not buffer
    partial = bytearray(good + good[:10])
    assert split_blocks(partial) == [good] and bytes(partial) == good[:10]


def test_an_asterix_udp_feed_becomes_tracks(service: Service) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    mapping = parse_mapping("party: a\nicao:\n  3C6444: ua\n  3C0A55: ub\n")  # ub is b's: refused
    gateway = Gateway(mapping, decoders(), [Endpoint("asterix", "udp", "127.0.0.1", 0)], poster.offer, stats)
    poster.start()
    gateway.start()
    try:
        datagram = block(21, [cat021("3C6444", 36.0, 2.0, flight_level=200, ground_speed_kt=300, track_deg=0)])
        datagram += block(62, [cat062(7, 36.1, 2.1, address="3C0A55")])
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(datagram, ("127.0.0.1", gateway.ports[0]))
            udp.sendto(b"\x15\x00\x0agarbage", ("127.0.0.1", gateway.ports[0]))
        seen = wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua from CAT021")
        wait_for(lambda: stats.snapshot()["refused"] + stats.snapshot()["malformed"] >= 2, what="counters")
    finally:
        gateway.stop()
        poster.stop()
    assert seen["lat_deg"] == pytest.approx(36.0, abs=1e-6) and seen["alt_m"] == pytest.approx(20000 * FT_M)
    assert seen["vel_north_mps"] == pytest.approx(300 * KT_MPS, rel=1e-3)
    counts = stats.snapshot()
    assert (counts["accepted"], counts["refused"], counts["malformed"]) == (1, 1, 1)
