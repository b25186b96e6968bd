"""ASTERIX data blocks made for the tests: CAT021 (ADS-B reports, edition 2.6) and CAT062 (system
tracks, edition 1.18) records with the items the adapter reads.

asterix-decoder decodes but does not encode; this follows the EUROCONTROL specifications (the
FSPEC, each item's octets and LSB) that the decoder's own XML definitions describe, so a record that
decodes back to what was encoded pins both ends.
"""

from __future__ import annotations

FT_PER_FL = 100.0


def _fspec(frns: list[int]) -> bytes:
    """The field specification: 7 FRN bits per octet, the last bit of each octet saying another follows."""
    octets = [0] * ((max(frns) + 6) // 7)
    for frn in frns:
        index, bit = divmod(frn - 1, 7)
        octets[index] |= 0x80 >> bit
    for index in range(len(octets) - 1):
        octets[index] |= 1
    return bytes(octets)


def _signed(value: float, lsb: float, octets: int) -> bytes:
    return round(value / lsb).to_bytes(octets, "big", signed=True)


def _record(items: dict[int, bytes]) -> bytes:
    frns = sorted(items)
    return _fspec(frns) + b"".join(items[frn] for frn in frns)


def block(category: int, records: list[bytes]) -> bytes:
    """One data block: category, total length, records."""
    body = b"".join(records)
    return bytes([category]) + (3 + len(body)).to_bytes(2, "big") + body


def cat021(
    address: str,
    lat_deg: float,
    lon_deg: float,
    *,
    flight_level: float | None = None,
    ground_speed_kt: float | None = None,
    track_deg: float | None = None,
    vrate_fpm: float | None = None,
    simulated: bool = False,
    sac_sic: tuple[int, int] = (25, 1),
) -> bytes:
    """A CAT021 record: I010 source, I040 descriptor (24-bit address), I131 high-resolution position,
    I080 target address, and optionally I145 flight level, I155 barometric vertical rate, I160 ground vector."""
    descriptor = bytes([0b000_00_0_0_1, 0b00_1_0_0_00_0 if simulated else 0])  # ATP 0: 24-bit address; SIM
    items = {
        1: bytes(sac_sic),
        2: descriptor,
        7: _signed(lat_deg, 180.0 / 2**30, 4) + _signed(lon_deg, 180.0 / 2**30, 4),
        11: bytes.fromhex(address),
    }
    if flight_level is not None:
        items[21] = _signed(flight_level, 0.25, 2)
    if vrate_fpm is not None:
        items[24] = (round(vrate_fpm / 6.25) & 0x7FFF).to_bytes(2, "big")  # RE (range exceeded) clear
    if ground_speed_kt is not None and track_deg is not None:
        speed = round(ground_speed_kt / 3600.0 / 2**-14).to_bytes(2, "big")
        items[26] = speed + round(track_deg % 360.0 / (360.0 / 2**16)).to_bytes(2, "big")
    return _record(items)


def cat062(
    track_number: int,
    lat_deg: float,
    lon_deg: float,
    *,
    address: str | None = None,
    vel_east_mps: float = 0.0,
    vel_north_mps: float = 0.0,
    measured_fl: float | None = None,
    rate_of_climb_fpm: float | None = None,
    simulated: bool = False,
) -> bytes:
    """A CAT062 record: I010 source, I070 time of track, I105 position, I185 velocity, I040 track
    number, I080 status, and optionally I380 target address, I136 measured flight level, I220 rate of climb."""
    items = {
        1: bytes((25, 100)),
        4: round(3600.0 / (1 / 128)).to_bytes(3, "big"),
        5: _signed(lat_deg, 180.0 / 2**25, 4) + _signed(lon_deg, 180.0 / 2**25, 4),
        7: _signed(vel_east_mps, 0.25, 2) + _signed(vel_north_mps, 0.25, 2),
        12: track_number.to_bytes(2, "big"),
        13: bytes([0b0_0_0_100_0_1, 0b1_0000000 if simulated else 0]),  # SRC 4: Mode S; SIM
    }
    if address is not None:
        items[11] = b"\x80" + bytes.fromhex(address)  # I380: the ADR subfield alone
    if measured_fl is not None:
        items[17] = _signed(measured_fl * FT_PER_FL, 25.0, 2)
    if rate_of_climb_fpm is not None:
        items[20] = _signed(rate_of_climb_fpm, 6.25, 2)
    return _record(items)
