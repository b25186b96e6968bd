"""Activities and hotline messages as TAK sees them: activities as drawn shapes carrying their
window, hotline messages as GeoChat (``b-t-f``) in a chat room per thread, in the reader's language
(the API renders phrases for the key's party)."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from typing import Any

from keepclear.domain.timefmt import parse_utc
from keepclear.interop.cot import COT_UNKNOWN, cot_time, event_xml, xml_bytes

UID_PREFIX = "keepclear."
#: ARGB stroke of activity shapes (magenta: planned, not agreed lines).
_ACTIVITY_COLOUR = str(0xFFFF00FF - (1 << 32))
_CIRCLE_VERTICES = 36
_EARTH_RADIUS_M = 6_371_008.8


def _circle(lat_deg: float, lon_deg: float, radius_m: float) -> list[tuple[float, float]]:
    """A circle as a closed ring of vertices (ATAK draws it as a polygon)."""
    ring = []
    for i in range(_CIRCLE_VERTICES + 1):
        bearing = 2 * math.pi * i / _CIRCLE_VERTICES
        d_lat = radius_m * math.cos(bearing) / _EARTH_RADIUS_M
        d_lon = radius_m * math.sin(bearing) / (_EARTH_RADIUS_M * max(math.cos(math.radians(lat_deg)), 1e-6))
        ring.append((lat_deg + math.degrees(d_lat), lon_deg + math.degrees(d_lon)))
    return ring


def _ft(value: Any) -> str:
    return f"{float(value):g}" if isinstance(value, int | float) else "?"


def _shapes(view: dict[str, Any]) -> list[tuple[str, list[tuple[float, float]], str, str, str]]:
    """(suffix, vertices, start, end, altitudes) of each volume and the route of an activity view."""
    out = []
    for index, volume in enumerate(view.get("volumes") or []):
        if "circle" in volume:
            c = volume["circle"]
            ring = _circle(float(c["lat"]), float(c["lon"]), float(c["radius_m"]))
        else:
            ring = [(float(lat), float(lon)) for lon, lat, *_ in volume["geometry"]["coordinates"][0]]
        altitudes = f"{_ft(volume.get('lower_ft'))}-{_ft(volume.get('upper_ft'))} ft"
        out.append((f"v{index}", ring, volume.get("start", view["start"]), volume.get("end", view["end"]), altitudes))
    route = view.get("route")
    if route and route.get("waypoints"):
        line = [(float(w["lat"]), float(w["lon"])) for w in route["waypoints"]]
        altitudes = (
            f"{_ft(route.get('lower_ft'))}-{_ft(route.get('upper_ft'))} ft, {_ft(route.get('half_width_m'))} m wide"
        )
        out.append(("route", line, view["start"], view["end"], altitudes))
    return out


def activity_events(views: list[dict[str, Any]], now_s: float, stale_after_s: float) -> list[bytes]:
    """Each activity a party may see (``GET /v1/activities``) whose window has not ended, as ``u-d-f``
    shapes: its volumes and route, the window and altitudes in remarks, stale at the window's end at
    the latest. Views without geometry (a non-addressed party's overlap-only view) are left out."""
    out = []
    for view in views:
        if "start" not in view or "end" not in view:
            continue
        for suffix, vertices, start, end, altitudes in _shapes(view):
            end_s = parse_utc(end, "end")
            if end_s <= now_s or not vertices:
                continue
            status = view.get("status", "")
            remarks = (
                f"keepclear activity {view['id']} ({view.get('kind', '')}, {status}) of party {view.get('party', '')}:"
                f" {start} to {end}, {altitudes}"
            )
            if view.get("text"):
                remarks += f". {view['text']}"
            out.append(
                event_xml(
                    uid=f"{UID_PREFIX}activity.{view['id']}.{suffix}",
                    cot_type="u-d-f",
                    time_s=now_s,
                    stale_s=min(end_s, now_s + stale_after_s),
                    lat_deg=sum(v[0] for v in vertices) / len(vertices),
                    lon_deg=sum(v[1] for v in vertices) / len(vertices),
                    callsign=f"{view.get('kind', 'activity')} {view['id']} {start[11:16]}-{end[11:16]}Z",
                    remarks=remarks,
                    links=vertices,
                    extra={
                        "strokeColor": {"value": _ACTIVITY_COLOUR},
                        "strokeWeight": {"value": "2.0"},
                        "__keepclear": {"activity": str(view["id"]), "start": start, "end": end},
                    },
                )
            )
    return out


def geochat_event(message: dict[str, Any], thread: dict[str, Any], now_s: float, stale_after_s: float) -> bytes:
    """One hotline message (as ``GET .../messages`` gives it to the reader) as a GeoChat message in the
    thread's chat room: the sender is the sending party's hotline, the text the reader's language."""
    room_id = f"{UID_PREFIX}thread.{thread['id']}"
    room = f"keepclear: {thread.get('title') or thread['id']}"
    sender = message.get("sender_party") or "keepclear"  # None: the deployment's own message (an alert's)
    sender_uid = f"{UID_PREFIX}hotline.{sender}"
    callsign = f"{sender} {message.get('sender_person') or ''}".strip()
    message_id = f"{thread['id']}.{message['seq']}"
    time_s = float(message.get("time_s") or now_s)
    event = ET.Element(
        "event",
        version="2.0",
        uid=f"GeoChat.{sender_uid}.{room_id}.{message_id}",
        type="b-t-f",
        how="h-g-i-g-o",
        time=cot_time(time_s),
        start=cot_time(time_s),
        stale=cot_time(now_s + stale_after_s),
    )
    unknown = f"{COT_UNKNOWN:.1f}"
    ET.SubElement(event, "point", lat="0.0", lon="0.0", hae=unknown, ce=unknown, le=unknown)
    detail = ET.SubElement(event, "detail")
    chat = ET.SubElement(
        detail,
        "__chat",
        {
            "parent": "RootContactGroup",
            "groupOwner": "false",
            "messageId": message_id,
            "chatroom": room,
            "id": room_id,
            "senderCallsign": callsign,
        },
    )
    ET.SubElement(chat, "chatgrp", uid0=sender_uid, uid1=room_id, id=room_id)
    ET.SubElement(detail, "link", uid=sender_uid, type="a-f-G-U-C", relation="p-p")
    remarks = ET.SubElement(detail, "remarks", source=f"keepclear.{sender_uid}", to=room_id, time=cot_time(time_s))
    remarks.text = str(message.get("text") or message.get("body") or "")
    return xml_bytes(event)
