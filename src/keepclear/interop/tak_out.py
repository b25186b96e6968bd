"""TAK protocol version 1 both ways for events keepclear builds as CoT XML.

Out: the same events ``interop out`` sends as XML, converted by ``takproto`` into a protobuf
``TakMessage`` (mesh datagrams ``0xbf 0x01 0xbf`` for UDP targets, the stream form ``0xbf``, varint
length, message for TCP and TLS). The typed fields (uid, type, times, point, contact, track) carry
what they can; every other detail element (remarks, ``link`` vertices, ``__keepclear``, ``__chat``,
colours) goes as XML text in ``xmlDetail``, as ATAK does, so the content equals the XML path's.

In: a received message rebuilt as the CoT XML event it stands for, so GeoChat and drawings are read
by the same code as XML (``decode_chat``, ``decode_drawing``).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.sax.saxutils import quoteattr

#: Detail elements TAK protocol v1 carries in typed fields; the rest travel in ``xmlDetail``.
_TYPED = frozenset({"contact", "__group", "precisionlocation", "status", "takv", "track"})


def to_tak(events: list[bytes], *, stream: bool) -> list[bytes]:
    """Each CoT XML event (as ``event_xml`` writes it) as a TAK protocol v1 message."""
    import takproto  # the interop extra; imported only where TAK protocol is asked for
    from takproto.functions import msg2proto, xml2message

    version = takproto.TAKProtoVer.STREAM if stream else takproto.TAKProtoVer.MESH
    out = []
    for event in events:
        message: Any = xml2message(bytearray(event))
        # takproto's own xmlDetail of a GeoChat misses text with line breaks: written here for every event.
        detail = ET.fromstring(event).find("detail")
        if detail is not None:
            rest = (ET.tostring(child, encoding="unicode").strip() for child in detail if child.tag not in _TYPED)
            message.cotEvent.detail.xmlDetail = "".join(rest)
        out.append(bytes(msg2proto(message, version)))
    return out


def _time(ms: int) -> str:
    from keepclear.interop.cot import cot_time

    return cot_time(ms / 1000.0)


def proto_to_xml(event: Any) -> bytes:
    """A ``CotEvent`` of a TAK message as the CoT XML event it stands for (``xmlDetail`` as the
    detail's XML, the typed contact as ``<contact callsign>``); read by the XML decoders, which
    refuse a DTD as in XML."""
    contact = ""
    if event.HasField("detail") and event.detail.HasField("contact") and event.detail.contact.callsign:
        contact = f"<contact callsign={quoteattr(event.detail.contact.callsign)}/>"
    xml_detail = event.detail.xmlDetail if event.HasField("detail") else ""
    times = f"time={quoteattr(_time(event.sendTime))} start={quoteattr(_time(event.startTime))}"
    return (
        f'<event version="2.0" uid={quoteattr(event.uid)} type={quoteattr(event.type)} {times} '
        f"stale={quoteattr(_time(event.staleTime))} how={quoteattr(event.how)}>"
        f'<point lat="{event.lat!r}" lon="{event.lon!r}" hae="{event.hae!r}" ce="{event.ce!r}" le="{event.le!r}"/>'
        f"<detail>{contact}{xml_detail}</detail></event>"
    ).encode()
