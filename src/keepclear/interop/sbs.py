"""SBS-1 / BaseStation text (port 30003 of dump1090, readsb and most ADS-B receivers).

A position (MSG,3 airborne; MSG,2 surface) becomes an observation of its ICAO address, with the
last ground speed, track and vertical rate (MSG,4) and altitude heard from that aircraft, if recent.
The receiver's own time fields are local time on many receivers, so the time of receipt is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from keepclear.interop.gateway import split_lines
from keepclear.interop.mapping import IdKind, normal_id
from keepclear.interop.observation import Observation, check_position, velocity
from keepclear.interop.recent import RecentTable

FT_M = 0.3048
KT_MPS = 1852.0 / 3600.0
FPM_MPS = FT_M / 60.0
_KINDS = frozenset({"MSG", "SEL", "ID", "AIR", "STA", "CLK"})


@dataclass
class _Aircraft:
    alt_ft: float = math.nan
    speed_kt: float = math.nan
    track_deg: float = math.nan
    vrate_fpm: float = 0.0
    velocity_s: float = -math.inf


def _field(fields: list[str], index: int) -> float:
    """A numeric field; NaN when empty. Raises ValueError naming the field when not a number."""
    text = fields[index].strip() if index < len(fields) else ""
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"field {index + 1} {text!r} is not a number") from None


class SbsDecoder:
    """SBS-1 lines; velocity and altitude are kept per ICAO address (at most ``max_aircraft``, oldest forgotten)."""

    name = "sbs"
    tail_is_message = True

    def __init__(self, max_aircraft: int = 50_000, velocity_max_age_s: float = 30.0) -> None:
        self.max_aircraft = max_aircraft
        self.velocity_max_age_s = velocity_max_age_s
        self._aircraft: RecentTable[str, _Aircraft] = RecentTable(_Aircraft, max_aircraft)

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_lines(buffer)

    def _state(self, icao: str) -> _Aircraft:
        return self._aircraft.get(icao)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        try:
            fields = message.decode("ascii").split(",")
        except UnicodeDecodeError:
            raise ValueError("not ASCII text") from None
        if fields[0] not in _KINDS:
            raise ValueError(f"{fields[0][:10]!r} is not an SBS message type")
        if fields[0] != "MSG":
            return []
        if len(fields) < 17:
            raise ValueError(f"MSG with {len(fields)} fields, at least 17 expected")
        kind = fields[1].strip()
        icao = normal_id(IdKind.ICAO, fields[4])
        if icao is None:
            raise ValueError(f"hex ident {fields[4]!r} is not 6 hex digits")
        alt_ft = _field(fields, 11)
        state = self._state(icao)
        if math.isfinite(alt_ft):
            state.alt_ft = alt_ft
        if kind in ("2", "4"):
            speed, track = _field(fields, 12), _field(fields, 13)
            if math.isfinite(speed) and math.isfinite(track):
                state.speed_kt, state.track_deg, state.velocity_s = speed, track, received_s
                vrate = _field(fields, 16)
                state.vrate_fpm = vrate if math.isfinite(vrate) else 0.0
        if kind not in ("2", "3"):
            return []
        lat, lon = _field(fields, 14), _field(fields, 15)
        if not (math.isfinite(lat) and math.isfinite(lon)):
            return []  # a position message without a position: nothing to report
        check_position(lat, lon)
        east = north = up = 0.0
        if received_s - state.velocity_s <= self.velocity_max_age_s:
            east, north = velocity(state.track_deg, state.speed_kt * KT_MPS)
            up = state.vrate_fpm * FPM_MPS
        alt_m = 0.0 if not math.isfinite(state.alt_ft) else state.alt_ft * FT_M
        return [Observation(IdKind.ICAO, icao, received_s, lat, lon, alt_m, east, north, up)]
