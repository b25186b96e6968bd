"""TAK protocol version 1 (protobuf, decoded by takproto): the mesh form (UDP datagrams starting
``0xbf 0x01 0xbf``) and the stream form (``0xbf``, a varint length, the message) that ATAK and TAK
Server use once they have agreed on it. Positions of ``a-*`` events become observations by uid;
GeoChat (``b-t-f``) and drawings (``u-d-*``) are rebuilt as the XML event they stand for and read by
the XML path's decoders (acknowledgements, zone proposals).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import takproto
from google.protobuf.message import DecodeError

from keepclear.interop.cot import COT_UNKNOWN, Chat, Drawing, decode_chat, decode_drawing
from keepclear.interop.mapping import IdKind
from keepclear.interop.observation import Observation, check_position, cot_domain, velocity
from keepclear.interop.tak_out import proto_to_xml

MAGIC = 0xBF
MESH_HEADER = b"\xbf\x01\xbf"
MAX_MESSAGE_BYTES = 65_536


def split_tak(buffer: bytearray) -> list[bytes]:
    """Complete TAK messages out of ``buffer``: a mesh datagram whole, stream messages by their length.

    Bytes that cannot start a message (no ``0xbf``) are handed out up to the next ``0xbf``, so the
    decoder counts them as malformed and the stream finds its feet again.
    """
    if buffer[:3] == MESH_HEADER:
        whole = bytes(buffer)
        buffer.clear()
        return [whole]
    out: list[bytes] = []
    start = 0
    while start < len(buffer):
        if buffer[start] != MAGIC:
            next_magic = buffer.find(MAGIC, start + 1)
            end = len(buffer) if next_magic < 0 else next_magic
            out.append(bytes(buffer[start:end]))
            start = end
            continue
        length, shift, index = 0, 0, start + 1
        while index < len(buffer) and index - start <= 10:
            byte = buffer[index]
            length |= (byte & 0x7F) << shift
            shift += 7
            index += 1
            if not byte & 0x80:
                break
        else:
            if index - start > 10:  # no end of the varint in 10 bytes: not a length
                out.append(bytes(buffer[start:index]))
                start = index
                continue
            break  # the length is not all here yet
        if length > MAX_MESSAGE_BYTES:
            out.append(bytes(buffer[start:index]))
            start = index
            continue
        if index + length > len(buffer):
            break
        out.append(bytes(buffer[start : index + length]))
        start = index + length
    if start:
        del buffer[:start]
    return out


class TakProtoDecoder:
    """TAK protocol v1 messages (mesh or stream); GeoChat to ``on_chat``, drawings to ``on_drawing``."""

    name = "tak"
    tail_is_message = False

    def __init__(
        self, on_chat: Callable[[Chat], None] | None = None, on_drawing: Callable[[Drawing], None] | None = None
    ) -> None:
        self.on_chat = on_chat
        self.on_drawing = on_drawing

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_tak(buffer)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        if not message or message[0] != MAGIC:
            raise ValueError("does not start with 0xbf: not a TAK protocol message")
        try:
            parsed: Any = takproto.parse_proto(bytearray(message))
        except (DecodeError, ValueError, IndexError) as exc:
            raise ValueError(f"protobuf does not decode ({type(exc).__name__})") from None
        if parsed is None or not parsed.HasField("cotEvent"):
            raise ValueError("no cotEvent in the TAK message")
        event = parsed.cotEvent
        if not event.type.startswith("a-"):
            if event.type == "b-t-f" and self.on_chat is not None:
                chat = decode_chat(proto_to_xml(event))
                if chat is not None:
                    self.on_chat(chat)
            elif event.type.startswith("u-d-") and self.on_drawing is not None:
                drawing = decode_drawing(proto_to_xml(event))
                if drawing is not None:
                    self.on_drawing(drawing)
            return []
        if not event.uid:
            raise ValueError("event has no uid")
        check_position(event.lat, event.lon)
        if event.sendTime <= 0:
            raise ValueError("event has no sendTime")
        east = north = 0.0
        if event.HasField("detail") and event.detail.HasField("track"):
            east, north = velocity(event.detail.track.course, event.detail.track.speed)
        hae = event.hae if math.isfinite(event.hae) and event.hae < COT_UNKNOWN else 0.0
        return [
            Observation(
                IdKind.COT,
                event.uid,
                event.sendTime / 1000.0,
                event.lat,
                event.lon,
                hae,
                east,
                north,
                0.0,
                cot_domain(event.type),
            )
        ]
