"""AIS as NMEA 0183 (``!AIVDM``/``!AIVDO``) decoded by pyais: position reports (types 1-3, 18, 19, 21, 27)
of an MMSI become observations; static and voyage data (5, 24) and the rest are read and ignored.

Sentences of a multi-part message are held until complete (a bounded number of groups, the oldest
given up). AIS positions carry only the second of the minute, so the time of receipt is used.
"""

from __future__ import annotations

import binascii
import math
from binascii import a2b_base64
from collections import OrderedDict
from typing import Any

from pyais import NMEAMessage
from pyais.exceptions import AISBaseException

from keepclear.interop.gateway import split_lines
from keepclear.interop.mapping import IdKind
from keepclear.interop.observation import Observation, check_position, velocity

KT_MPS = 1852.0 / 3600.0
POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 21, 27})

#: AIS' six-bit armour onto base64's alphabet, so ``b64decode`` unpacks a payload in C (as pyais does).
_ARMOUR = bytes(range(48, 88)) + bytes(range(96, 120))
_BASE64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TO_BASE64 = bytes.maketrans(_ARMOUR, _BASE64)
#: First payload character of a single-sentence class A (1-3) or class B (18) position report.
_FAST_TYPES = frozenset(b"123B")
_HEX = frozenset(b"0123456789ABCDEFabcdef")


def _checksum(body: bytes) -> int:
    """XOR of every byte, folded as one big integer (a few operations instead of one per byte)."""
    value, size = int.from_bytes(body, "little"), len(body)
    while size > 1:
        half = (size + 1) // 2
        value = (value & ((1 << (8 * half)) - 1)) ^ (value >> (8 * half))
        size = half
    return value


def _signed(value: int, bits: int) -> int:
    return value - (1 << bits) if value >> (bits - 1) else value


def position_fast(sentence: bytes) -> tuple[int, float, float, float, float] | None:
    """(mmsi, lat, lon, speed kt, course deg) of a single-sentence type 1-3 or 18 report, read
    without building pyais' objects: the hot path of a busy AIS feed (pyais' own decoding of every
    sentence was most of the cost). None for anything else or anything doubtful, which then goes
    through pyais; a test pins this path to pyais' answers."""
    star = sentence.rfind(b"*")
    if sentence[:1] not in (b"!", b"$") or star < 0 or len(sentence) < star + 3:
        return None
    fields = sentence[1:star].split(b",")
    if len(fields) != 7 or fields[1] != b"1" or fields[2] != b"1" or fields[6] != b"0":
        return None
    payload = fields[5]
    if len(payload) != 28 or payload[0] not in _FAST_TYPES:
        return None
    tail = sentence[star + 1 : star + 3]
    if not _HEX.issuperset(tail) or _checksum(sentence[1:star]) != int(tail, 16):
        return None
    try:
        value = int.from_bytes(a2b_base64(payload.translate(_TO_BASE64), strict_mode=True), "big")
    except binascii.Error:
        return None
    kind, mmsi = value >> 162, (value >> 130) & 0x3FFFFFFF
    if kind == 18:  # class B: 8 reserved bits after the MMSI, then speed, accuracy, lon, lat, course
        value >>= 44
    elif kind in (1, 2, 3):  # class A: status and rate of turn after the MMSI
        value >>= 40
    else:
        return None
    course, lat, lon, speed = value & 0xFFF, (value >> 12) & 0x7FFFFFF, (value >> 39) & 0xFFFFFFF, (value >> 68) & 0x3FF
    return mmsi, _signed(lat, 27) / 600_000.0, _signed(lon, 28) / 600_000.0, speed / 10.0, course / 10.0


def _mmsi(value: object) -> str:
    return f"{int(str(value)):09d}"


class AisDecoder:
    """NMEA AIS sentences, one per line; multi-part messages assembled."""

    name = "ais"
    tail_is_message = True

    def __init__(self, max_groups: int = 1_000) -> None:
        self.max_groups = max_groups
        self._groups: OrderedDict[tuple[Any, ...], list[NMEAMessage]] = OrderedDict()

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_lines(buffer)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        fast = position_fast(message.strip())
        if fast is not None:
            mmsi, lat, lon, speed_kt, course = fast
            return self._observation(f"{mmsi:09d}", lat, lon, speed_kt, course, received_s)
        try:
            sentence = NMEAMessage(message.strip())
            if not sentence.is_valid:
                raise ValueError("bad NMEA checksum")
            if not sentence.is_single:
                assembled = self._assemble(sentence)
                if assembled is None:
                    return []
                sentence = assembled
            decoded: Any = sentence.decode()
        except AISBaseException as exc:
            raise ValueError(f"{type(exc).__name__}: {exc}") from None
        if decoded.msg_type not in POSITION_TYPES:
            return []
        speed_kt = float(getattr(decoded, "speed", math.nan) or 0.0)
        course = float(getattr(decoded, "course", math.nan))
        return self._observation(
            _mmsi(decoded.mmsi), float(decoded.lat), float(decoded.lon), speed_kt, course, received_s
        )

    @staticmethod
    def _observation(
        mmsi: str, lat: float, lon: float, speed_kt: float, course: float, received_s: float
    ) -> list[Observation]:
        if lat == 91.0 or lon == 181.0:
            return []  # position not available
        check_position(lat, lon)
        east = north = 0.0
        if speed_kt < 102.2 and course < 360.0:
            east, north = velocity(course, speed_kt * KT_MPS)
        return [Observation(IdKind.MMSI, mmsi, received_s, lat, lon, 0.0, east, north, 0.0)]

    def _assemble(self, sentence: NMEAMessage) -> NMEAMessage | None:
        key = (sentence.seq_id, sentence.channel, sentence.frag_cnt)
        parts = self._groups.get(key)
        if sentence.frag_num == 1 or parts is None:
            parts = self._groups[key] = []
            if len(self._groups) > self.max_groups:
                self._groups.popitem(last=False)
        parts.append(sentence)
        if len(parts) < sentence.frag_cnt:
            return None
        del self._groups[key]
        if [p.frag_num for p in parts] != list(range(1, sentence.frag_cnt + 1)):
            raise ValueError("multi-part message with missing or repeated parts")
        return NMEAMessage.assemble_from_iterable(parts)
