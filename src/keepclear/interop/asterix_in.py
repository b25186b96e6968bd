"""ASTERIX (EUROCONTROL surveillance data) decoded by asterix-decoder: CAT021 ADS-B target reports and
CAT062 system tracks. A message is one data block (category, length, records); a UDP datagram may
hold several. Records of an aircraft address become observations of that ICAO address; system
tracks without an address (primary-only tracks), simulated and test targets, and other categories
(e.g. CAT065 service messages) are read and ignored.

The records' own times are seconds since midnight without a date, so the time of receipt is used.
"""

from __future__ import annotations

import math
from typing import Any

import asterix

from keepclear.interop.mapping import IdKind, normal_id
from keepclear.interop.observation import Observation, check_position, velocity
from keepclear.interop.sbs import FPM_MPS, FT_M

NM_M = 1852.0
FT_PER_FL = 100.0
CATEGORIES = frozenset({21, 62})


def split_blocks(buffer: bytearray) -> list[bytes]:
    """Complete data blocks out of ``buffer`` by their length field. A length under 3 cannot start a
    block and ASTERIX has no marker to find the next one, so what is left is handed out as one
    malformed message."""
    out: list[bytes] = []
    start = 0
    while len(buffer) - start >= 3:
        length = int.from_bytes(buffer[start + 1 : start + 3], "big")
        if length < 3:
            out.append(bytes(buffer[start:]))
            start = len(buffer)
            break
        if start + length > len(buffer):
            break
        out.append(bytes(buffer[start : start + length]))
        start += length
    if start:
        del buffer[:start]
    return out


def _val(record: dict[str, Any], *path: str) -> Any:
    """The value at ``path`` (item, [subfield,] field) as asterix-decoder gives it; None when absent."""
    found: Any = record
    for key in path:
        found = found.get(key) if isinstance(found, dict) else None
    return found.get("val") if isinstance(found, dict) else None


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else math.nan


def _cat021(record: dict[str, Any], received_s: float) -> Observation | None:
    if _val(record, "I040", "SIM") == 1 or _val(record, "I040", "TST") == 1:
        return None
    icao = normal_id(IdKind.ICAO, str(_val(record, "I080", "TAddr") or ""))
    lat, lon = _number(_val(record, "I131", "Lat")), _number(_val(record, "I131", "Lon"))
    if math.isnan(lat):
        lat, lon = _number(_val(record, "I130", "Lat")), _number(_val(record, "I130", "Lon"))
    if icao is None or math.isnan(lat) or math.isnan(lon):
        return None
    check_position(lat, lon)
    alt_ft = _number(_val(record, "I145", "FL")) * FT_PER_FL
    if math.isnan(alt_ft):
        alt_ft = _number(_val(record, "I140", "geometric_height"))
    east = north = up = 0.0
    if _val(record, "I160", "RE") == 0:
        speed_nm_s, track_deg = _number(_val(record, "I160", "GS")), _number(_val(record, "I160", "TA"))
        east, north = velocity(track_deg, speed_nm_s * NM_M)
    for item, field in (("I155", "BVR"), ("I157", "GVR")):
        rate = _number(_val(record, item, field))
        if _val(record, item, "RE") == 0 and math.isfinite(rate):
            up = rate * FPM_MPS
            break
    alt_m = alt_ft * FT_M if math.isfinite(alt_ft) else 0.0
    return Observation(IdKind.ICAO, icao, received_s, lat, lon, alt_m, east, north, up)


def _cat062(record: dict[str, Any], received_s: float) -> Observation | None:
    if _val(record, "I080", "SIM") == 1:
        return None
    icao = normal_id(IdKind.ICAO, str(_val(record, "I380", "ADR", "ADR") or ""))
    lat, lon = _number(_val(record, "I105", "Lat")), _number(_val(record, "I105", "Lon"))
    if icao is None or math.isnan(lat) or math.isnan(lon):
        return None
    check_position(lat, lon)
    alt_ft = _number(_val(record, "I136", "MFL"))  # the decoder gives feet (LSB 1/4 FL)
    if math.isnan(alt_ft):
        alt_ft = _number(_val(record, "I130", "Alt"))
    east, north = _number(_val(record, "I185", "Vx")), _number(_val(record, "I185", "Vy"))
    if math.isnan(east) or math.isnan(north):
        east = north = 0.0
    rate = _number(_val(record, "I220", "RoC"))
    up = rate * FPM_MPS if math.isfinite(rate) else 0.0
    alt_m = alt_ft * FT_M if math.isfinite(alt_ft) else 0.0
    return Observation(IdKind.ICAO, icao, received_s, lat, lon, alt_m, east, north, up)


class AsterixDecoder:
    """ASTERIX data blocks; CAT021 and CAT062 records with an aircraft address become observations."""

    name = "asterix"
    tail_is_message = False

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_blocks(buffer)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        if len(message) < 3:
            raise ValueError("shorter than a data block's header (category, length)")
        category, length = message[0], int.from_bytes(message[1:3], "big")
        if length != len(message):
            raise ValueError(f"data block of {len(message)} bytes says it has {length}")
        if category not in CATEGORIES:
            return []
        records: list[dict[str, Any]] = asterix.parse(message, verbose=False)
        if not records:
            raise ValueError(f"CAT{category:03d} data block holds no record")
        out = []
        for index, record in enumerate(records):
            if record.get("hexdata") is None or len(record) <= 5:
                raise ValueError(f"CAT{category:03d} record {index + 1} does not decode")
            found = _cat021(record, received_s) if category == 21 else _cat062(record, received_s)
            if found is not None:
                out.append(found)
        return out
