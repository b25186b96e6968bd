"""ADS-B as raw Mode S frames, decoded by pyModeS: hex text (``*8D...;`` AVR lines of port 30002, or
bare hex) and the Beast binary form (port 30005 of dump1090/readsb).

Only extended squitters (DF17/18) whose CRC holds are read. pyModeS' streaming decoder pairs even
and odd CPR halves per ICAO address (and decodes later halves locally against the last position);
a receiver's position, when given, resolves a lone half at once (within 180 NM). Velocity (type 19)
and altitude are kept per address and joined to each position, as SBS does. Receivers' own clocks
are free-running counters, so the time of receipt is used.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pyModeS

from keepclear.interop.gateway import split_lines
from keepclear.interop.mapping import IdKind
from keepclear.interop.observation import Observation, check_position, velocity
from keepclear.interop.recent import RecentTable
from keepclear.interop.sbs import FPM_MPS, FT_M, KT_MPS

_HEX = frozenset(b"0123456789abcdefABCDEF")
#: Beast frame types: '1' Mode A/C (2 bytes), '2' Mode S short (7), '3' Mode S long (14); after the
#: escape and type, 6 bytes of receiver clock and 1 of signal level.
BEAST_ESCAPE = 0x1A
BEAST_PAYLOAD = {0x31: 2, 0x32: 7, 0x33: 14}
_BEAST_HEAD = 7


@dataclass
class _Aircraft:
    alt_ft: float = math.nan
    east_kt: float = 0.0
    north_kt: float = 0.0
    vrate_fpm: float = 0.0
    velocity_s: float = -math.inf


def hex_of_line(line: bytes) -> str:
    """The frame of a text line: ``*8D...;`` (AVR), ``@<12 hex clock>8D...;`` (AVR with MLAT clock) or bare hex."""
    text = line.strip()
    if text[:1] == b"@":
        text = text[13:]  # the 48-bit receiver clock
    elif text[:1] == b"*":
        text = text[1:]
    text = text.rstrip(b";")
    if len(text) not in (14, 28) or not _HEX.issuperset(text):
        raise ValueError("not a Mode S frame: give 14 or 28 hex digits (AVR *...; or bare)")
    return text.decode("ascii").upper()


def split_beast(buffer: bytearray) -> list[bytes]:
    """Complete Beast frames out of ``buffer``, as sent (escaped), for ``beast_frame`` to read.

    Bytes that do not start a frame, and a frame cut short by the next one, are handed out up to the
    next escape, so the decoder counts them as malformed and the stream finds its feet again; an
    incomplete frame at the end stays for the next read.
    """
    out: list[bytes] = []
    start, size = 0, len(buffer)
    while start < size:
        if buffer[start] != BEAST_ESCAPE or (start + 1 < size and buffer[start + 1] not in BEAST_PAYLOAD):
            following = buffer.find(BEAST_ESCAPE, start + 1)
            end = size if following < 0 else following
            out.append(bytes(buffer[start:end]))
            start = end
            continue
        if start + 1 >= size:
            break
        want = _BEAST_HEAD + BEAST_PAYLOAD[buffer[start + 1]]
        count, index, complete = 0, start + 2, True
        while count < want:
            if index >= size:
                complete = False
                break
            if buffer[index] == BEAST_ESCAPE:
                if index + 1 >= size:
                    complete = False
                    break
                if buffer[index + 1] != BEAST_ESCAPE:
                    break  # the next frame begins: this one was cut short
                index += 1
            count += 1
            index += 1
        if not complete:
            break  # the rest is not here yet
        out.append(bytes(buffer[start:index]))
        start = index
    if start:
        del buffer[:start]
    return out


def beast_frame(raw: bytes) -> tuple[int, bytes]:
    """(type byte, Mode S/AC frame) of one escaped Beast frame; ValueError for anything else."""
    kind = raw[1] if len(raw) > 1 and raw[0] == BEAST_ESCAPE else None
    if kind not in BEAST_PAYLOAD:
        raise ValueError("not a Beast frame: 0x1a and a type 1-3 expected")
    parts = raw[2:].split(b"\x1a\x1a")
    body = b"\x1a".join(parts)
    if any(BEAST_ESCAPE in part for part in parts) or len(body) != _BEAST_HEAD + BEAST_PAYLOAD[kind]:
        raise ValueError("Beast frame cut short or overlong")
    return kind, body[_BEAST_HEAD:]


class ModeSDecoder:
    """Mode S frames as hex text lines; positions with velocity and altitude per ICAO address."""

    name = "modes"
    tail_is_message = True

    def __init__(
        self,
        reference: tuple[float, float] | None = None,
        *,
        max_aircraft: int = 50_000,
        velocity_max_age_s: float = 30.0,
    ) -> None:
        if reference is not None:
            check_position(*reference)
        self.reference = reference
        self.max_aircraft = max_aircraft
        self.velocity_max_age_s = velocity_max_age_s
        self._pipe = pyModeS.PipeDecoder(surface_ref=reference)
        self._aircraft: RecentTable[str, _Aircraft] = RecentTable(_Aircraft, max_aircraft)

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_lines(buffer)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        return self.decode_frame(hex_of_line(message), received_s)

    def _state(self, icao: str) -> _Aircraft:
        return self._aircraft.get(icao)

    def decode_frame(self, frame_hex: str, received_s: float) -> list[Observation]:
        """One frame's position, if it has one (an ADS-B position resolved), as an observation."""
        result: Any = self._pipe.decode(frame_hex, timestamp=received_s)
        if "error" in result:
            raise ValueError(str(result["error"]))
        if result.get("df") not in (17, 18):
            return []  # surveillance replies and all-calls carry no position
        if result.get("crc_valid") is not True:
            raise ValueError(f"extended squitter of {result.get('icao')} fails its CRC")
        icao = str(result["icao"]).upper()
        bds = result.get("bds")
        if bds == "0,9":
            speed_kt, track_deg = result.get("groundspeed"), result.get("track")
            if speed_kt is not None and track_deg is not None:
                state = self._state(icao)
                state.east_kt, state.north_kt = velocity(float(track_deg), float(speed_kt))
                state.vrate_fpm = float(result.get("vertical_rate") or 0.0)
                state.velocity_s = received_s
            return []
        if bds not in ("0,5", "0,6"):
            return []  # identification, status and the rest: no position
        state = self._state(icao)
        if bds == "0,5" and result.get("altitude") is not None:
            state.alt_ft = float(result["altitude"])
        lat, lon = result.get("latitude"), result.get("longitude")
        if lat is None and bds == "0,5" and self.reference is not None:
            found: Any = pyModeS.decode(frame_hex, reference=self.reference)
            lat, lon = found.get("latitude"), found.get("longitude")
        if lat is None or lon is None:
            return []  # half of a pair: the position comes with the other half
        check_position(float(lat), float(lon))
        east = north = up = 0.0
        if bds == "0,6":
            speed_kt, track_deg = result.get("groundspeed"), result.get("track")
            if speed_kt is not None and track_deg is not None:
                east, north = velocity(float(track_deg), float(speed_kt) * KT_MPS)
            alt_m = 0.0
        else:
            if received_s - state.velocity_s <= self.velocity_max_age_s:
                east, north = state.east_kt * KT_MPS, state.north_kt * KT_MPS
                up = state.vrate_fpm * FPM_MPS
            alt_m = 0.0 if not math.isfinite(state.alt_ft) else state.alt_ft * FT_M
        return [Observation(IdKind.ICAO, icao, received_s, float(lat), float(lon), alt_m, east, north, up)]


class BeastDecoder(ModeSDecoder):
    """Mode S frames in the Beast binary form (Mode A/C frames are read and ignored)."""

    name = "beast"
    tail_is_message = False

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_beast(buffer)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        kind, frame = beast_frame(message)
        if kind == 0x31:
            return []  # Mode A/C: no position
        return self.decode_frame(frame.hex().upper(), received_s)
