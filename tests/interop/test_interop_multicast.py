"""TAK's mesh: SA over UDP multicast, both ways, on the loopback interface."""

from __future__ import annotations

import socket
import time

from apisupport import Service
from interopsupport import tracks, wait_for

from keepclear.api.server import free_port
from keepclear.domain.timefmt import format_utc
from keepclear.interop.cot import event_xml
from keepclear.interop.cot_out import CotOut, Target
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster

LOOPBACK = "127.0.0.1"


def test_mesh_positions_in_and_the_picture_out_over_multicast(service: Service) -> None:
    stats = Stats()
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    port_in = free_port()
    gateway = Gateway(
        parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\n"),
        decoders(),
        [Endpoint.parse(f"cot:udp:239.2.3.1:{port_in}", ("cot",))],
        poster.offer,
        stats,
        multicast_interface=LOOPBACK,
    )
    poster.start()
    gateway.start()
    try:
        now_s = time.time()
        event = event_xml(
            uid="ANDROID-A1", cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=36.0, lon_deg=1.0
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as mesh:  # an ATAK on the mesh
            mesh.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(LOOPBACK))
            mesh.sendto(event, ("239.2.3.1", port_in))
        assert wait_for(lambda: tracks(service, "a-liaison").get("ua"), what="ua from the mesh")["lat_deg"] == 36.0
    finally:
        gateway.stop()
        poster.stop()

    with service.client("b-feed") as b_feed:
        report = {"unit_id": "ub", "time": format_utc(time.time()), "lat_deg": 30.0, "lon_deg": 1.0}
        assert b_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    port_out = free_port()
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("239.2.3.1", port_out))
    listener.setsockopt(
        socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, socket.inet_aton("239.2.3.1") + socket.inet_aton(LOOPBACK)
    )
    listener.settimeout(5)
    out = CotOut(
        service.url,
        service.keys["a-liaison"],
        "a",
        [Target.parse(f"udp://239.2.3.1:{port_out}")],
        Stats(),
        multicast_interface=LOOPBACK,
    )
    try:
        out.cycle()
        datagrams = [listener.recvfrom(65536)[0]]
        listener.settimeout(0.5)
        while True:
            try:
                datagrams.append(listener.recvfrom(65536)[0])
            except TimeoutError:
                break
    finally:
        out.close()
        listener.close()
    # A's own aircraft only: B's is far away, in no alert, so the API does not show it to A.
    assert len(datagrams) == 1 and b'uid="keepclear.ua"' in datagrams[0]
