"""ADS-B extended squitters (DF17) made for the tests: airborne positions (CPR even/odd) and velocities.

pyModeS decodes but does not encode; this follows the encoding its decoder inverts (ICAO Annex 10
vol. IV; Sun, *The 1090 Megahertz Riddle*, chapters 5 and 6), with pyModeS' own CRC and NL table,
so a frame that decodes back to what was encoded pins both ends.
"""

from __future__ import annotations

import math

from pyModeS.util import cprNL, crc

_CPR_BITS = 1 << 17


def _frame(icao: str, me: int) -> str:
    """DF17 CA5 with the 56-bit ME field and its parity."""
    head = (17 << 3 | 5) << 24 | int(icao, 16)
    body = f"{head:08X}{me:014X}"
    return f"{body}{crc(body + '000000'):06X}"


def _altitude_code(alt_ft: float) -> int:
    """The 12-bit altitude field with the Q bit set (25 ft steps)."""
    n = round((alt_ft + 1000) / 25)
    return (n >> 4) << 5 | 1 << 4 | (n & 0xF)


def _cpr(lat_deg: float, lon_deg: float, odd: int) -> tuple[int, int]:
    dlat = 360.0 / (60 - odd)
    yz = math.floor(_CPR_BITS * (lat_deg % dlat) / dlat + 0.5)
    rlat = dlat * (yz / _CPR_BITS + math.floor(lat_deg / dlat))
    dlon = 360.0 / max(cprNL(rlat) - odd, 1)
    xz = math.floor(_CPR_BITS * (lon_deg % dlon) / dlon + 0.5)
    return yz % _CPR_BITS, xz % _CPR_BITS


def position(icao: str, lat_deg: float, lon_deg: float, alt_ft: float, odd: bool) -> str:
    """An airborne position (type code 11): barometric altitude and one CPR half."""
    yz, xz = _cpr(lat_deg, lon_deg, int(odd))
    me = 11 << 51 | _altitude_code(alt_ft) << 36 | int(odd) << 34 | yz << 17 | xz
    return _frame(icao, me)


def velocity(icao: str, east_kt: int, north_kt: int, vrate_fpm: int) -> str:
    """An airborne velocity over ground (type code 19, subtype 1)."""
    me = 19 << 51 | 1 << 48
    me |= int(east_kt < 0) << 42 | (abs(east_kt) + 1) << 32
    me |= int(north_kt < 0) << 31 | (abs(north_kt) + 1) << 21
    me |= int(vrate_fpm < 0) << 19 | (abs(vrate_fpm) // 64 + 1) << 10
    return _frame(icao, me)


def beast(frame_hex: str, signal: int = 0x80) -> bytes:
    """A Mode S frame in the Beast binary form: 0x1a, type '2' or '3', a 6-byte clock, signal, the
    frame; every 0x1a of the body doubled."""
    data = bytes.fromhex(frame_hex)
    kind = b"3" if len(data) == 14 else b"2"
    body = bytes(6) + bytes([signal]) + data
    return b"\x1a" + kind + body.replace(b"\x1a", b"\x1a\x1a")
