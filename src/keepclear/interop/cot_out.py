"""CoT out: what one party's key may read from keepclear, as CoT events to its TAK network.

The picture comes from the public API with the party's key (GET /v1/tracks, GET /v1/alerts), so
a TAK user sees exactly what the party's liaison sees: its own units, another party's unit only
while an alert involves it, and the alerts of its units with their level. Nothing else is asked for.
"""

from __future__ import annotations

import logging
import math
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from keepclear.domain.timefmt import parse_utc
from keepclear.interop.clients import Clients
from keepclear.interop.cot import event_xml
from keepclear.interop.observation import Stats
from keepclear.interop.tak_out import to_tak
from keepclear.interop.tak_views import activity_events, geochat_event

log = logging.getLogger("keepclear.interop")

#: CoT dimension letter of each keepclear domain.
_DIMENSION = {"air": "A", "land": "G", "sea": "S"}
#: The CoT type of an alert (ATAK's "ring the bell" alert) and of its cancellation.
ALERT_TYPE = "b-a-o-pan"
CANCEL_TYPE = "b-a-o-can"
UID_PREFIX = "keepclear."


@dataclass(frozen=True)
class Target:
    """Where events go: ``udp://239.2.3.1:6969`` (unicast or multicast), ``tcp://takserver:8087`` or
    ``tls://takserver:8089`` (with a client certificate); ``tak+`` before the scheme sends TAK
    protocol v1 (protobuf: mesh datagrams over UDP, the stream form over TCP and TLS), else CoT XML."""

    transport: str
    host: str
    port: int
    protocol: str = "xml"

    @classmethod
    def parse(cls, text: str) -> Target:
        scheme, sep, rest = text.partition("://")
        protocol, plus, transport = scheme.rpartition("+")
        host, colon, port = rest.rpartition(":")
        if (
            not sep
            or transport not in ("udp", "tcp", "tls")
            or (plus and protocol != "tak")
            or not colon
            or not host
            or not port.isdigit()
        ):
            raise ValueError(
                f"{text!r}: give udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT "
                "(tak+udp://, tak+tcp://, tak+tls:// for TAK protocol v1)"
            )
        return cls(transport, host, int(port), "tak" if plus else "xml")

    def __str__(self) -> str:
        prefix = "tak+" if self.protocol == "tak" else ""
        return f"{prefix}{self.transport}://{self.host}:{self.port}"


class _Sender:
    """One target's socket; a TCP connection is made again after a failure."""

    def __init__(
        self,
        target: Target,
        multicast_ttl: int = 1,
        multicast_interface: str | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.target = target
        self.tls = tls
        self.ttl = multicast_ttl
        self.interface = multicast_interface
        self._sock: socket.socket | None = None

    def send(self, events: list[bytes]) -> None:
        if self.target.protocol == "tak":
            events = to_tak(events, stream=self.target.transport != "udp")
        if self._sock is None:
            self._sock = self._open()
        try:
            if self.target.transport == "udp":
                for event in events:
                    self._sock.sendto(event, (self.target.host, self.target.port))
            else:
                self._sock.sendall(b"".join(events))
        except OSError:
            self.close()
            raise

    def _open(self) -> socket.socket:
        if self.target.transport == "udp":
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, self.ttl)
            if self.interface:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(self.interface))
            return sock
        sock = socket.create_connection((self.target.host, self.target.port), timeout=10)
        if self.target.transport != "tls":
            return sock
        if self.tls is None:
            sock.close()
            raise OSError(f"{self.target.host}:{self.target.port}: a tls target needs a client certificate and CA")
        try:
            return self.tls.wrap_socket(sock, server_hostname=self.target.host)
        except (ssl.SSLError, OSError):
            sock.close()
            raise

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def track_events(
    tracks: list[dict[str, Any]], party_id: str, now_s: float, stale_after_s: float, skip: frozenset[str]
) -> list[bytes]:
    """A CoT event per visible track: the party's own units friendly, others' of unknown affiliation."""
    out = []
    for t in tracks:
        if t["unit_id"] in skip:
            continue
        own = t["party_id"] == party_id
        east, north = float(t["vel_east_mps"]), float(t["vel_north_mps"])
        remarks = None if own else f"keepclear: party {t['party_id']}'s unit, shown while an alert involves it"
        out.append(
            event_xml(
                uid=f"{UID_PREFIX}{t['unit_id']}",
                cot_type=f"a-{'f' if own else 'u'}-{_DIMENSION.get(t['domain'], 'G')}",
                time_s=parse_utc(t["time"], "time"),
                stale_s=now_s + stale_after_s,
                lat_deg=float(t["lat_deg"]),
                lon_deg=float(t["lon_deg"]),
                hae_m=float(t["alt_m"]),
                course_deg=math.degrees(math.atan2(east, north)) % 360.0,
                speed_mps=math.hypot(east, north),
                callsign=t["unit_id"],
                remarks=remarks,
                extra={"__keepclear": {"party": str(t["party_id"]), "unit": str(t["unit_id"])}},
            )
        )
    return out


def alert_event(alert: dict[str, Any], now_s: float, stale_after_s: float) -> bytes:
    """An alert as a CoT alert at the midpoint of its two units, its level in remarks and detail."""
    points = list(alert.get("positions", {}).values())
    lat = sum(p["lat_deg"] for p in points) / len(points) if points else 0.0
    lon = sum(p["lon_deg"] for p in points) / len(points) if points else 0.0
    ttl = alert.get("time_to_los_s")
    when = "" if ttl is None else f", loss of separation in {ttl:.0f} s"
    acked = ", acknowledged by " + ", ".join(alert["acknowledged_by"]) if alert.get("acknowledged_by") else ""
    reply = "" if alert.get("acknowledged_by") else f". Reply ACK {alert['alert_id']} to acknowledge"
    return event_xml(
        uid=f"{UID_PREFIX}alert.{alert['alert_id']}",
        cot_type=ALERT_TYPE,
        time_s=now_s,
        stale_s=now_s + stale_after_s,
        lat_deg=lat,
        lon_deg=lon,
        callsign=f"{alert['level'].upper()} {alert['unit_a']}/{alert['unit_b']}",
        remarks=f"keepclear {alert['level']} alert: {alert['unit_a']} ({alert['party_a']}) and "
        f"{alert['unit_b']} ({alert['party_b']}){when}{acked}{reply}",
        extra={
            "__keepclear": {
                "alert": str(alert["alert_id"]),
                "level": str(alert["level"]),
                "status": str(alert.get("status", "raised")),
            }
        },
    )


def cancel_event(alert_id: str, now_s: float) -> bytes:
    """The end of an alert: the same uid with the cancel type, stale at once."""
    return event_xml(
        uid=f"{UID_PREFIX}alert.{alert_id}",
        cot_type=CANCEL_TYPE,
        time_s=now_s,
        stale_s=now_s + 1.0,
        lat_deg=0.0,
        lon_deg=0.0,
        remarks=f"keepclear alert {alert_id} resolved",
        extra={"__keepclear": {"alert": alert_id, "status": "resolved"}},
    )


#: ARGB stroke colour of each zone kind, as ATAK writes it (a signed 32-bit integer).
_ZONE_COLOURS = {
    "de-escalation-zone": 0xFFFF0000,
    "deconfliction-line": 0xFFFF8000,
    "caution-area": 0xFFFFFF00,
    "protected-site": 0xFF00FFFF,
}


def _signed(argb: int) -> str:
    return str(argb - (1 << 32) if argb >= 1 << 31 else argb)


def zone_events(document: dict[str, Any], now_s: float, stale_after_s: float) -> list[bytes]:
    """The zones of ``GET /v1/zones`` as CoT drawings: polygons and lines as shapes (``u-d-f``, the
    polygon closed), areas given as a point with a radius as circles (``u-d-c-c``), each with its
    name, kind and altitudes."""
    out = []
    for feature in document.get("features", []):
        geometry = feature.get("geometry") or {}
        props = feature.get("properties") or {}
        kind = str(props.get("kind", "zone"))
        name = str(props.get("name") or feature.get("id"))
        remarks = f"keepclear {kind}: {name}, {props.get('lower_ft', 0)}-{props.get('upper_ft', '')} ft"
        if props.get("description"):
            remarks += f". {props['description']}"
        colour = _signed(_ZONE_COLOURS.get(kind, 0xFFFFFFFF))
        common: dict[str, Any] = {
            "uid": f"{UID_PREFIX}zone.{feature.get('id')}",
            "time_s": now_s,
            "stale_s": now_s + stale_after_s,
            "callsign": name,
            "remarks": remarks,
        }
        if geometry.get("type") == "Point":
            lon, lat = geometry["coordinates"][:2]
            radius_m = float(props.get("radius_m") or 0.0)
            if radius_m > 0:
                stroke = {"strokeColor": {"value": colour}, "strokeWeight": {"value": "3.0"}}
                out.append(event_xml(cot_type="u-d-c-c", lat_deg=lat, lon_deg=lon, circle_m=radius_m, extra=stroke,
                                     **common))  # fmt: skip
            else:
                out.append(event_xml(cot_type="b-m-p-s-m", lat_deg=lat, lon_deg=lon, **common))
            continue
        if geometry.get("type") == "Polygon":
            ring = geometry["coordinates"][0]
        elif geometry.get("type") == "LineString":
            ring = geometry["coordinates"]
        else:
            continue  # other geometries are not drawn yet
        vertices = [(float(lat), float(lon)) for lon, lat, *_ in ring]
        centre_lat = sum(v[0] for v in vertices) / len(vertices)
        centre_lon = sum(v[1] for v in vertices) / len(vertices)
        out.append(
            event_xml(
                cot_type="u-d-f",
                lat_deg=centre_lat,
                lon_deg=centre_lon,
                links=vertices,
                extra={"strokeColor": {"value": colour}, "strokeWeight": {"value": "3.0"}},
                **common,
            )
        )
    return out


class WrongPartyKeyError(ValueError):
    """The key a picture is read with is another party's (or no party's) than the one it is sent for:
    an adapter given the wrong key would send that party's picture to this party's TAK network."""


class CotOut:
    """Polls keepclear with one party's key every ``interval_s`` and sends the picture to the targets.

    Before its first picture it asks keepclear whose the key is (``GET /v1/me``): a key of another
    party than ``party_id`` sends nothing, ever (``WrongPartyKeyError``; counted ``wrong_party_key``)."""

    def __init__(
        self,
        url: str,
        key: str,
        party_id: str,
        targets: list[Target],
        stats: Stats,
        *,
        interval_s: float = 2.0,
        skip_units: frozenset[str] = frozenset(),
        clock: Callable[[], float] = time.time,
        multicast_ttl: int = 1,
        multicast_interface: str | None = None,
        tls: ssl.SSLContext | None = None,
        chat_backlog: int = 20,
        clients: Clients | None = None,
    ) -> None:
        self.party_id = party_id
        #: TAK connections of the party (to keepclear's endpoints) that get the picture too.
        self.clients = clients
        self.stats = stats
        self.interval_s = interval_s
        self.stale_after_s = max(3 * interval_s, 10.0)
        self.skip_units = skip_units
        self.clock = clock
        headers = {"Authorization": f"Bearer {key}"}
        self._client = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=10)
        # The live stream (GET /v1/stream, the same key) only says when: an alert event wakes a cycle at once.
        self._stream_client = httpx.Client(
            base_url=url.rstrip("/"), headers=headers, timeout=httpx.Timeout(10.0, read=None)
        )
        self._wake = threading.Event()
        self._senders = [_Sender(t, multicast_ttl, multicast_interface, tls) for t in targets]
        #: The last hotline message sent per thread; a thread seen first sends its last ``chat_backlog``.
        self._chat_seq: dict[str, int] = {}
        self.chat_backlog = chat_backlog
        self._active_alerts: set[str] = set()
        #: Zones change rarely: sent every ``zones_every`` cycles (30 s), stale after three such periods.
        self.zones_every = max(1, round(30.0 / interval_s))
        self._cycles = 0
        #: The key was found to be ``party_id``'s (``GET /v1/me``), once.
        self._key_checked = False
        if clients is not None:
            clients.on_join = self._wake.set

    def check_key(self) -> None:
        """``WrongPartyKeyError`` unless the key is ``party_id``'s (asked of keepclear once)."""
        if self._key_checked:
            return
        owner = self._get("/v1/me").get("party_id")
        if owner != self.party_id:
            raise WrongPartyKeyError(
                f"the picture's key is {'no party' if owner is None else f'party {owner}'}'s, not party"
                f" {self.party_id}'s: nothing is sent (give the adapter a key of party {self.party_id})"
            )
        self._key_checked = True

    def cycle(self) -> int:
        """One poll and send; the number of events sent to each target."""
        self.check_key()
        tracks = self._get("/v1/tracks")
        alerts = self._get("/v1/alerts")
        now_s = self.clock()
        events = track_events(tracks, self.party_id, now_s, self.stale_after_s, self.skip_units)
        events += [alert_event(a, now_s, self.stale_after_s) for a in alerts]
        newcomer = self.clients is not None and self.clients.joined()  # it needs the zones now
        if self._cycles % self.zones_every == 0 or newcomer:
            slow_stale_s = 3 * self.zones_every * self.interval_s
            zones: Any = self._get("/v1/zones")
            events += zone_events(zones, now_s, slow_stale_s)
            events += activity_events(self._get("/v1/activities"), now_s, slow_stale_s)
        events += self._chat(now_s)
        self._cycles += 1
        current = {str(a["alert_id"]) for a in alerts}
        events += [cancel_event(alert_id, now_s) for alert_id in sorted(self._active_alerts - current)]
        self._active_alerts = current
        for sender in self._senders:
            try:
                sender.send(events)
                self.stats.add("sent", len(events))
            except OSError as exc:
                self.stats.add("send_errors", len(events))
                log.warning("interop: sending to %s failed: %s", sender.target, exc)
        if self.clients is not None:
            self.stats.add("sent", len(events) * self.clients.send(events))
        return len(events)

    def _chat(self, now_s: float) -> list[bytes]:
        """New hotline messages of the party's threads as GeoChat, in the party's language."""
        out = []
        for thread in self._get("/v1/hotline/threads"):
            thread_id, last = str(thread["id"]), int(thread["last_seq"])
            sent = self._chat_seq.setdefault(thread_id, max(0, last - self.chat_backlog))
            if last <= sent:
                continue
            messages = self._get(f"/v1/hotline/threads/{thread_id}/messages?after_seq={sent}")
            for message in messages:
                out.append(geochat_event(message, thread, now_s, 3600.0))
                self._chat_seq[thread_id] = max(self._chat_seq[thread_id], int(message["seq"]))
        return out

    def _get(self, path: str) -> Any:
        response = self._client.get(path)
        if response.status_code != 200:
            raise httpx.HTTPStatusError(
                f"keepclear answered {response.status_code} to {path}: {response.text[:300]}",
                request=response.request,
                response=response,
            )
        return response.json()

    def watch(self, stop: threading.Event) -> None:
        """Follow the party's live stream and wake the next cycle on every alert event, so an alert
        reaches TAK within a probe tick rather than a polling interval. Reconnects after a loss."""
        while not stop.is_set():
            try:
                with self._stream_client.stream("GET", "/v1/stream") as response:
                    for line in response.iter_lines():
                        if line.startswith("event: alert."):
                            self._wake.set()
                        if stop.is_set():
                            return
            except (httpx.HTTPError, RuntimeError) as exc:  # RuntimeError: the client closed while reading
                if stop.is_set():
                    return
                log.info("interop: live stream lost (%s); polling until it is back", exc)
            stop.wait(2.0)

    def run(self, stop: threading.Event) -> None:
        """Cycle every ``interval_s`` (at once on an alert event) until ``stop`` is set; a failed poll
        is logged and tried again next interval."""
        watcher = threading.Thread(target=self.watch, args=(stop,), name="interop-out-stream", daemon=True)
        watcher.start()
        while not stop.is_set():
            self._wake.clear()
            try:
                self.cycle()
            except WrongPartyKeyError as exc:  # stays wrong: said once, then nothing more is sent
                self.stats.add("wrong_party_key")
                log.error("interop: %s", exc)
                stop.wait()
                break
            except httpx.HTTPError as exc:
                self.stats.add("post_errors")
                log.warning("interop: reading keepclear failed: %s", exc)
            except Exception:  # an answer of an unexpected shape: logged, and the next cycle tries again
                self.stats.add("post_errors")
                log.exception("interop: building the picture failed")
            self._wake.wait(self.interval_s)
        self._stream_client.close()
        watcher.join(timeout=1.0)  # a daemon: it ends with the stream's next line or the process

    def wake(self) -> None:
        """Cycle now (and notice a stop at once)."""
        self._wake.set()

    def close(self) -> None:
        for sender in self._senders:
            sender.close()
        self._client.close()
        self._stream_client.close()
