"""AIS as NMEA 0183 (``!AIVDM``/``!AIVDO``) decoded by pyais: position reports (types 1-3, 18, 19, 21, 27)
of an MMSI become observations; static and voyage data (5, 24) and the rest are read and ignored.

Sentences of a multi-part message are held until complete (a bounded number of groups, the oldest
given up). AIS positions carry only the second of the minute, so the time of receipt is used.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from typing import Any

from pyais import NMEAMessage
from pyais.exceptions import AISBaseException

from keepclear.interop.gateway import split_lines
from keepclear.interop.mapping import IdKind
from keepclear.interop.observation import Observation, check_position, velocity

KT_MPS = 1852.0 / 3600.0
POSITION_TYPES = frozenset({1, 2, 3, 18, 19, 21, 27})


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
        lat, lon = float(decoded.lat), float(decoded.lon)
        if lat == 91.0 or lon == 181.0:
            return []  # position not available
        check_position(lat, lon)
        speed_kt = float(getattr(decoded, "speed", math.nan) or 0.0)
        course = float(getattr(decoded, "course", math.nan))
        east = north = 0.0
        if speed_kt < 102.2 and course < 360.0:
            east, north = velocity(course, speed_kt * KT_MPS)
        return [Observation(IdKind.MMSI, _mmsi(decoded.mmsi), received_s, lat, lon, 0.0, east, north, 0.0)]

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
