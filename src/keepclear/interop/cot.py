"""Cursor on Target XML: events in (positions of ``a-*`` events), events out (tracks and alerts).

Input comes from anyone on the network. CoT never carries a DTD, so a message with one is refused
before parsing: without a DTD there are no entities to expand (no entity bomb) and no external
references (no XXE); what remains is read by the standard library's expat, with handlers that keep
only the attributes a position needs (no tree built): several times faster than defusedxml's
pure-Python parser, which forbids the same. A TCP stream of CoT is
split on ``</event>``.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from xml.parsers import expat

from keepclear.domain.timefmt import parse_utc
from keepclear.interop.mapping import IdKind
from keepclear.interop.observation import Observation, check_position, cot_domain, velocity

#: The "unknown" value CoT uses for hae, ce and le.
COT_UNKNOWN = 9999999.0
#: What XML 1.0 has no character for (its ``Char`` production): most controls, lone surrogates,
#: U+FFFE and U+FFFF. ElementTree writes them as they are, and no XML reader takes the event.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
END = b"</event>"


def split_events(buffer: bytearray) -> list[bytes]:
    """Take every complete ``<event>...</event>`` out of ``buffer`` (the rest stays for the next read)."""
    out: list[bytes] = []
    start = 0
    while True:
        end = buffer.find(END, start)
        if end < 0:
            break
        out.append(bytes(buffer[start : end + len(END)]))
        start = end + len(END)
    if start:
        del buffer[:start]
    return out


def _number(tag: str, attributes: dict[str, str], name: str, default: float | None = None) -> float:
    raw = attributes.get(name)
    if raw is None:
        if default is None:
            raise ValueError(f"<{tag}> has no {name}")
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"<{tag}> {name}={raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"<{tag}> {name}={raw!r} is not finite")
    return value


class _Parts:
    """The attributes of the elements a position needs, gathered while expat reads (no tree is built)."""

    __slots__ = (
        "callsign", "chat", "depth", "ellipse", "event", "in_detail", "in_remarks", "in_shape", "link", "link_points",
        "point", "remarks", "root", "track",
    )  # fmt: skip

    def __init__(self) -> None:
        self.depth = 0
        self.root = ""
        self.event: dict[str, str] = {}
        self.point: dict[str, str] | None = None
        self.track: dict[str, str] | None = None
        self.chat: dict[str, str] | None = None
        self.link: dict[str, str] | None = None
        self.remarks: list[str] = []
        self.link_points: list[str] = []
        self.callsign = ""
        self.ellipse: dict[str, str] | None = None
        self.in_detail = False
        self.in_remarks = False
        self.in_shape = False

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        if self.depth == 1:
            self.root, self.event = tag, attributes
        elif self.depth == 2:
            if tag == "point" and self.point is None:
                self.point = attributes
            self.in_detail = tag == "detail"
        elif self.depth == 3 and self.in_detail:
            if tag == "track" and self.track is None:
                self.track = attributes
            elif tag == "__chat" and self.chat is None:
                self.chat = attributes
            elif tag == "link":
                if self.link is None:
                    self.link = attributes
                if "point" in attributes and len(self.link_points) < 2_001:
                    self.link_points.append(attributes["point"])
            elif tag == "contact":
                self.callsign = attributes.get("callsign", "")
            self.in_remarks = tag == "remarks"
            self.in_shape = tag == "shape"
        elif self.depth == 4 and self.in_shape and tag == "ellipse" and self.ellipse is None:
            self.ellipse = attributes

    def end(self, tag: str) -> None:
        if self.depth == 3:
            self.in_remarks = self.in_shape = False
        self.depth -= 1

    def text(self, data: str) -> None:
        if self.in_remarks and self.depth == 3:
            self.remarks.append(data)


@dataclass(frozen=True, slots=True)
class Chat:
    """A GeoChat message (``b-t-f``) from a TAK user: who sent it and what it says."""

    sender_uid: str
    callsign: str
    text: str


def _parse(message: bytes, *, text: bool = False) -> _Parts:
    data = message.strip()
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise ValueError("refused XML construct: a DTD or entity declaration")
    parts = _Parts()
    parser = expat.ParserCreate()
    parser.StartElementHandler = parts.start
    parser.EndElementHandler = parts.end
    if text:
        parser.CharacterDataHandler = parts.text
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise ValueError(f"not well-formed XML ({expat.ErrorString(exc.code)}, line {exc.lineno})") from None
    if parts.root != "event":
        raise ValueError(f"root element is <{parts.root}>, not <event>")
    return parts


@dataclass(frozen=True, slots=True)
class Drawing:
    """A shape drawn on TAK as GeoJSON lon/lat: a Polygon or LineString of its ``<link point>``
    vertices, or a circle as a Point with its radius as the member ``radius_m``."""

    uid: str
    name: str
    geometry: dict[str, object]
    remarks: str


#: The largest circle proposed (m): larger is a mistake of units or of the finger.
MAX_RADIUS_M = 1_000_000.0


def _circle(parts: _Parts) -> dict[str, object] | None:
    """The circle of a ``<shape><ellipse major minor/>`` (ATAK's ``u-d-c-c``: the radius in metres
    as ``major`` and ``minor``, the centre the event's point); None for an ellipse that is no circle."""
    ellipse, point = parts.ellipse or {}, parts.point
    if point is None:
        raise ValueError("circle without a <point> (its centre)")
    major, minor = _number("ellipse", ellipse, "major"), _number("ellipse", ellipse, "minor", -1.0)
    if minor >= 0 and abs(major - minor) > 0.01 * max(major, minor):
        return None  # an ellipse: not a zone keepclear holds
    if not 0 < major <= MAX_RADIUS_M:
        raise ValueError(f"circle radius {major!r} m is not in (0, {MAX_RADIUS_M:.0f}]")
    lat, lon = _number("point", point, "lat"), _number("point", point, "lon")
    check_position(lat, lon)
    return {"type": "Point", "coordinates": [lon, lat], "radius_m": major}


def decode_drawing(message: bytes) -> Drawing | None:
    """The shape of a ``u-d-f``/``u-d-r`` (and other vertex-listed ``u-d-*``) event: a polygon when
    its vertices close (a rectangle always), else a line; a circle (``u-d-c-c``, a ``<shape><ellipse>``)
    as a Point with ``radius_m``. None for other events, ellipses and shapes without vertices
    (markers). Raises ValueError for malformed vertices or circles."""
    parts = _parse(message, text=True)
    kind = parts.event.get("type", "")
    is_circle = parts.ellipse is not None and len(parts.link_points) < 2
    if not kind.startswith("u-d-") or (len(parts.link_points) < 2 and not is_circle):
        return None
    if len(parts.link_points) > 2_000:
        raise ValueError("drawing with more than 2000 vertices")
    uid = parts.event.get("uid") or ""
    if not uid:
        raise ValueError("drawing without a uid")
    if is_circle:
        circle = _circle(parts)
        return None if circle is None else Drawing(uid, parts.callsign or uid, circle, "".join(parts.remarks).strip())
    ring: list[list[float]] = []
    for raw in parts.link_points:
        try:
            lat, lon = (float(v) for v in raw.split(",")[:2])
        except ValueError:
            raise ValueError(f"link point {raw[:40]!r} is not 'lat,lon'") from None
        check_position(lat, lon)
        ring.append([lon, lat])
    closed = ring[0] == ring[-1] and len(ring) >= 4
    if kind.startswith("u-d-r") and not closed and len(ring) >= 3:
        ring.append(ring[0])
        closed = True
    geometry: dict[str, object] = (
        {"type": "Polygon", "coordinates": [ring]} if closed else {"type": "LineString", "coordinates": ring}
    )
    return Drawing(uid, parts.callsign or uid, geometry, "".join(parts.remarks).strip())


def decode_chat(message: bytes) -> Chat | None:
    """The GeoChat message of a ``b-t-f`` event (sender from ``__chat``'s ``chatgrp``/``link``); None
    for any other event. Raises ValueError for a malformed event."""
    parts = _parse(message, text=True)
    if parts.event.get("type") != "b-t-f":
        return None
    chat = parts.chat or {}
    sender = (parts.link or {}).get("uid") or chat.get("sender") or ""
    if not sender:
        uid = parts.event.get("uid", "")
        sender = uid.split(".")[1] if uid.startswith("GeoChat.") and uid.count(".") >= 2 else ""
    if not sender:
        raise ValueError("GeoChat event without a sender (no <link uid> in its detail)")
    return Chat(sender, chat.get("senderCallsign", sender), "".join(parts.remarks).strip())


def decode_event(message: bytes) -> Observation | None:
    """The position of one CoT event; None for an event that is not a position (``a-*``).

    Raises ValueError naming what is wrong with a malformed event.
    """
    parts = _parse(message)
    event = parts.event
    kind = event.get("type") or ""
    if not kind.startswith("a-"):
        return None
    uid = event.get("uid")
    if not uid:
        raise ValueError("event has no uid")
    time_s = parse_utc(event.get("time"), "time")
    point = parts.point
    if point is None:
        raise ValueError(f"event {uid!r} has no <point>")
    lat, lon = _number("point", point, "lat"), _number("point", point, "lon")
    check_position(lat, lon)
    hae = _number("point", point, "hae", COT_UNKNOWN)
    east = north = 0.0
    if parts.track is not None:
        track = parts.track
        east, north = velocity(_number("track", track, "course", math.nan), _number("track", track, "speed", math.nan))
    alt_m = 0.0 if hae >= COT_UNKNOWN else hae
    return Observation(IdKind.COT, uid, time_s, lat, lon, alt_m, east, north, 0.0, cot_domain(kind))


def cot_time(time_s: float) -> str:
    """CoT's time format: UTC, milliseconds, ``Z``."""
    return datetime.fromtimestamp(time_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def event_xml(
    *,
    uid: str,
    cot_type: str,
    time_s: float,
    stale_s: float,
    lat_deg: float,
    lon_deg: float,
    hae_m: float | None = None,
    course_deg: float | None = None,
    speed_mps: float | None = None,
    callsign: str | None = None,
    remarks: str | None = None,
    extra: dict[str, dict[str, str]] | None = None,
    links: list[tuple[float, float]] | None = None,
    circle_m: float | None = None,
) -> bytes:
    """One CoT event as XML bytes (``how="m-g"``: machine generated). ``stale_s`` is an absolute time;
    ``links`` are the vertices of a drawn shape (``<link point="lat,lon"/>``); ``circle_m`` the radius
    of a circle about the point (``<shape><ellipse major minor/>``, as ATAK draws ``u-d-c-c``)."""
    event = ET.Element(
        "event",
        version="2.0",
        uid=uid,
        type=cot_type,
        how="m-g",
        time=cot_time(time_s),
        start=cot_time(time_s),
        stale=cot_time(stale_s),
    )
    ET.SubElement(
        event,
        "point",
        lat=f"{lat_deg:.7f}",
        lon=f"{lon_deg:.7f}",
        hae=f"{COT_UNKNOWN if hae_m is None else hae_m:.1f}",
        ce=f"{COT_UNKNOWN:.1f}",
        le=f"{COT_UNKNOWN:.1f}",
    )
    detail = ET.SubElement(event, "detail")
    if callsign:
        ET.SubElement(detail, "contact", callsign=callsign)
    if course_deg is not None and speed_mps is not None:
        ET.SubElement(detail, "track", course=f"{course_deg % 360.0:.1f}", speed=f"{speed_mps:.2f}")
    for link_lat, link_lon in links or ():
        ET.SubElement(detail, "link", point=f"{link_lat:.7f},{link_lon:.7f}")
    if circle_m is not None:
        shape = ET.SubElement(detail, "shape")
        ET.SubElement(shape, "ellipse", major=f"{circle_m:.1f}", minor=f"{circle_m:.1f}", angle="360")
    if remarks:
        ET.SubElement(detail, "remarks").text = remarks
    for tag, attributes in (extra or {}).items():
        ET.SubElement(detail, tag, attributes)
    return xml_bytes(event)


def xml_bytes(event: ET.Element) -> bytes:
    """``event`` as UTF-8 XML, every character XML 1.0 cannot hold (in a text or an attribute: a
    party's message or activity text holding U+000B, ESC) written as U+FFFD, so that one party's text
    never makes another party's TAK picture unreadable."""
    for element in event.iter():
        if element.text:
            element.text = _NOT_XML.sub("\ufffd", element.text)
        if element.tail:
            element.tail = _NOT_XML.sub("\ufffd", element.tail)
        for name, value in list(element.attrib.items()):
            element.set(name, _NOT_XML.sub("\ufffd", value))
    out: bytes = ET.tostring(event, encoding="utf-8", xml_declaration=False)
    return out


class CotDecoder:
    """CoT XML events, split on ``</event>``; positions of ``a-*`` events by uid; GeoChat messages
    (``b-t-f``) handed to ``on_chat`` when given (acknowledging alerts from TAK), drawn shapes
    (``u-d-*``) to ``on_drawing`` (zone proposals)."""

    name = "cot"
    tail_is_message = False

    def __init__(
        self, on_chat: Callable[[Chat], None] | None = None, on_drawing: Callable[[Drawing], None] | None = None
    ) -> None:
        self.on_chat = on_chat
        self.on_drawing = on_drawing

    def split(self, buffer: bytearray) -> list[bytes]:
        return split_events(buffer)

    def decode(self, message: bytes, received_s: float) -> list[Observation]:
        found = decode_event(message)
        if found is None and self.on_chat is not None and b"b-t-f" in message:
            chat = decode_chat(message)
            if chat is not None:
                self.on_chat(chat)
        if found is None and self.on_drawing is not None and b"u-d-" in message:
            drawing = decode_drawing(message)
            if drawing is not None:
                self.on_drawing(drawing)
        return [] if found is None else [found]
