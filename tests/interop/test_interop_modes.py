"""ADS-B as raw Mode S frames (hex text and Beast binary) through pyModeS: CPR pairs, a receiver's
reference position, velocity and altitude per ICAO address, bad frames counted and skipped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from apisupport import Service
from interopsupport import Receiver, tracks, wait_for
from modesframes import beast, position, velocity

from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import IdKind, parse_mapping
from keepclear.interop.modes import BeastDecoder, ModeSDecoder, beast_frame, hex_of_line, split_beast
from keepclear.interop.observation import Observation, Stats
from keepclear.interop.poster import Poster
from keepclear.interop.sbs import FPM_MPS, FT_M, KT_MPS

#: The worked example of Junzi Sun, *The 1090 Megahertz Riddle* (2nd ed., mode-s.org/1090mhz,
#: section "Airborne position"): an even and an odd airborne position of 40621D at 38,000 ft,
#: decoding to 52.2572 N 3.9194 E; and its airborne velocity example of 485020 (159 kt, 182.88 deg,
#: -832 ft/min). Published frames quoted as test vectors, not a recording shipped by a package.
PUBLISHED_EVEN = "8D40621D58C382D690C8AC2863A7"
PUBLISHED_ODD = "8D40621D58C386435CC412692AD6"
PUBLISHED_VELOCITY = "8D485020994409940838175B284F"


def flight(icao: str, lat_deg: float, lon_deg: float, count: int, step_deg: float = 0.001) -> list[str]:
    """Alternating even/odd positions of an aircraft flying north at 30,000 ft."""
    return [position(icao, lat_deg + i * step_deg, lon_deg, 30000, odd=bool(i % 2)) for i in range(count)]


def decode_all(decoder: ModeSDecoder, frames: list[str], start_s: float = 100.0) -> list[Observation]:
    out: list[Observation] = []
    for i, frame in enumerate(frames):
        out += decoder.decode_frame(frame, start_s + 0.5 * i)
    return out


def test_cpr_pairs_resolve_per_address_with_velocity_and_altitude() -> None:
    decoder = ModeSDecoder()
    assert decoder.decode_frame(velocity("3C6444", east_kt=0, north_kt=400, vrate_fpm=-640), 99.0) == []
    a, b = flight("3C6444", 51.0, 7.0, 8), flight("4840D6", 45.0, -1.0, 8)
    seen = decode_all(decoder, [frame for pair in zip(a, b, strict=True) for frame in pair])
    by_icao = {icao: [o for o in seen if o.external_id == icao] for icao in ("3C6444", "4840D6")}
    # pyModeS holds an address's positions until three agree, then reports every half.
    assert 3 <= len(by_icao["3C6444"]) <= 6 and 3 <= len(by_icao["4840D6"]) <= 6
    last = by_icao["3C6444"][-1]
    assert last.kind is IdKind.ICAO
    assert (last.lat_deg, last.lon_deg) == (pytest.approx(51.007, abs=1e-4), pytest.approx(7.0, abs=1e-4))
    assert last.alt_m == pytest.approx(30000 * FT_M)
    assert last.vel_north_mps == pytest.approx(401 * KT_MPS, rel=0.01) and abs(last.vel_east_mps) < 0.5
    assert last.vel_up_mps == pytest.approx(-640 * FPM_MPS)
    other = by_icao["4840D6"][-1]
    assert other.lat_deg == pytest.approx(45.007, abs=1e-4) and other.vel_north_mps == 0.0  # no velocity heard
    # Velocity older than 30 s is not used.
    [late] = decoder.decode_frame(position("3C6444", 51.008, 7.0, 30000, odd=False), 132.0)
    assert late.vel_north_mps == 0.0 and late.alt_m == pytest.approx(30000 * FT_M)


def test_published_frames_decode_with_a_receiver_position() -> None:
    decoder = ModeSDecoder(reference=(52.0, 4.0))
    [even] = decoder.decode(f"*{PUBLISHED_EVEN};".encode(), 10.0)
    assert (even.lat_deg, even.lon_deg) == (pytest.approx(52.2572, abs=1e-4), pytest.approx(3.9194, abs=1e-4))
    assert even.external_id == "40621D" and even.alt_m == pytest.approx(38000 * FT_M)
    assert decoder.decode(PUBLISHED_VELOCITY.encode(), 10.0) == []
    [seen] = decoder.decode(position("485020", 52.1, 4.1, 10000, odd=True).encode(), 11.0)
    assert seen.vel_north_mps == pytest.approx(-159 * KT_MPS, rel=0.01)
    assert seen.vel_up_mps == pytest.approx(-832 * FPM_MPS)
    # Without a reference a lone half waits for its pair.
    assert ModeSDecoder().decode(PUBLISHED_EVEN.encode(), 10.0) == []


def test_bad_frames_raise_value_errors_naming_the_fault() -> None:
    decoder = ModeSDecoder()
    corrupted = PUBLISHED_EVEN[:-1] + "8"
    for bad, reason in (
        (corrupted.encode(), "fails its CRC"),
        (b"*8D40621D58C382D690C8AC2863AZ;", "not a Mode S frame"),
        (b"*8D40621D;", "not a Mode S frame"),
        (b"hello", "not a Mode S frame"),
    ):
        with pytest.raises(ValueError, match=reason):
            decoder.decode(bad, 1.0)
    assert hex_of_line(b"@0123456789AB" + PUBLISHED_EVEN.encode() + b";") == PUBLISHED_EVEN
    assert decoder.decode(b"*5D40621D58C382;", 1.0) == []  # an all-call reply: no position


def test_beast_stream_is_split_unescaped_and_resynchronised() -> None:
    escaped = position("1A1A1A", 51.0, 7.0, 30000, odd=False)  # 0x1a in the address: doubled on the wire
    frame = beast(escaped)
    assert frame.count(b"\x1a\x1a") >= 3
    mode_ac = b"\x1a1" + bytes(7) + b"\x12\x34"
    buffer = bytearray(b"junk" + frame + mode_ac + frame[:10] + beast(PUBLISHED_EVEN) + frame[:9])
    messages = split_beast(buffer)
    assert bytes(buffer) == frame[:9]  # an incomplete frame waits for the next read
    assert [m[:4] for m in messages[:1]] == [b"junk"]
    kind, data = beast_frame(messages[1])
    assert (kind, data.hex().upper()) == (0x33, escaped)
    assert beast_frame(messages[2])[0] == 0x31
    with pytest.raises(ValueError, match="cut short"):
        beast_frame(messages[3])  # cut short by the next frame's start
    assert beast_frame(messages[4])[1].hex().upper() == PUBLISHED_EVEN
    decoder = BeastDecoder(reference=(52.0, 4.0))
    assert decoder.decode(messages[2], 1.0) == []
    with pytest.raises(ValueError, match="not a Beast frame"):
        decoder.decode(messages[0], 1.0)
    [seen] = decoder.decode(messages[4], 1.0)
    assert seen.external_id == "40621D"


@pytest.fixture
def beast_receiver() -> Iterator[Receiver]:
    frames = [velocity("3C6444", east_kt=250, north_kt=0, vrate_fpm=0)]
    frames += flight("3C6444", 36.0, 2.0, 10) + flight("ABCDEF", 36.5, 2.5, 2)  # ABCDEF is not mapped
    wire = [beast(f) for f in frames]
    wire.insert(3, b"\x1a9garbage")
    found = Receiver(b"".join(wire) + beast(PUBLISHED_EVEN[:-1] + "8"))
    yield found
    found.listener.close()


def test_beast_receiver_becomes_a_track(service: Service, beast_receiver: Receiver) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    mapping = parse_mapping("party: a\nicao:\n  3C6444: ua\n")
    endpoint = Endpoint.parse(f"beast:connect:127.0.0.1:{beast_receiver.port}", ("beast",))
    gateway = Gateway(mapping, decoders(), [endpoint], poster.offer, stats)
    poster.start()
    gateway.start()
    try:
        seen = wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua from Beast frames")
        wait_for(lambda: stats.snapshot()["malformed"] >= 2, what="the bad frames counted")
    finally:
        gateway.stop()
        poster.stop()
    assert seen["lat_deg"] == pytest.approx(36.0, abs=0.01) and seen["lon_deg"] == pytest.approx(2.0, abs=1e-3)
    assert seen["vel_east_mps"] == pytest.approx(251 * KT_MPS, rel=0.01)
    assert seen["alt_m"] == pytest.approx(30000 * FT_M)
    counts = stats.snapshot()
    assert counts["malformed"] == 2  # the garbage and the frame failing its CRC
    assert counts["accepted"] >= 1 and counts["unmapped"] == 0  # ABCDEF's two halves never agree thrice
