"""Shapes drawn on a party's TAK become zone proposals; an admin accepts one as an agreed zone or
refuses it (HTTP and CLI); proposers and other roles see nothing of the list."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import takproto
from apisupport import Service
from interopsupport import pytak_send, wait_for

from keepclear.domain import Party
from keepclear.domain.timefmt import format_utc
from keepclear.domain.zones import ZoneKind
from keepclear.errors import ConflictError, ValidationError
from keepclear.interop.cot import decode_drawing
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster
from keepclear.interop.proposer import Proposer
from keepclear.ledger.canonical import canonical_bytes, sha256_hex
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.zones.proposals import ZoneProposals
from keepclear.store import Database, outbox
from keepclear.store import zone_proposals as proposals_store
from racing import Held, race_at_bound

KEEPCLEAR = str(Path(sys.executable).parent / "keepclear")
RING = [[36.0, 35.0], [36.2, 35.0], [36.2, 35.2], [36.0, 35.2], [36.0, 35.0]]


def drawing(
    uid: str, points: list[tuple[float, float]], cot_type: str = "u-d-f", name: str = "Checkpoint box"
) -> bytes:
    """A shape as ATAK sends it: vertices as ``<link point="lat,lon"/>``."""
    now = time.time()
    links = "".join(f'<link point="{lat},{lon}"/>' for lat, lon in points)
    return (
        f'<event version="2.0" uid="{uid}" type="{cot_type}" how="h-e" time="{format_utc(now)}" '
        f'start="{format_utc(now)}" stale="{format_utc(now + 86400)}"><point lat="35.1" lon="36.1" hae="0" ce="9" '
        f'le="9"/><detail>{links}<contact callsign="{name}"/><remarks>keep out</remarks></detail></event>'
    ).encode()


def test_drawings_decode_as_polygons_and_lines() -> None:
    square = [(35.0, 36.0), (35.0, 36.2), (35.2, 36.2), (35.2, 36.0), (35.0, 36.0)]
    found = decode_drawing(drawing("d1", square))
    assert found is not None and found.geometry == {"type": "Polygon", "coordinates": [RING]}
    assert (found.uid, found.name, found.remarks) == ("d1", "Checkpoint box", "keep out")
    rectangle = decode_drawing(drawing("d2", square[:4], cot_type="u-d-r"))
    assert rectangle is not None and rectangle.geometry["type"] == "Polygon"  # a rectangle is closed
    line = decode_drawing(drawing("d3", square[:3]))
    assert line is not None and line.geometry["type"] == "LineString"
    with pytest.raises(ValueError, match="outside"):
        decode_drawing(drawing("d4", [(95.0, 1.0), (1.0, 1.0)]))
    assert decode_drawing(drawing("d5", square, cot_type="a-f-G")) is None


def test_proposals_are_accepted_or_refused_by_an_admin_only(service: Service) -> None:
    with service.client("a-feed") as feed, service.client("admin") as admin, service.client("a-observer") as obs:
        body = {"source": "d1", "name": "Box", "geometry": {"type": "Polygon", "coordinates": [RING]}}
        first = feed.post("/v1/zone-proposals", json=body)
        assert first.status_code == 201 and first.json()["created"] is True
        again = feed.post("/v1/zone-proposals", json={**body, "name": "Box, redrawn"})
        assert again.json() == {"id": first.json()["id"], "created": False}
        assert obs.post("/v1/zone-proposals", json=body).status_code == 403
        assert [p["id"] for p in feed.get("/v1/zone-proposals").json()] == [first.json()["id"]]  # its own, to read
        assert feed.post(f"/v1/zone-proposals/{first.json()['id']}/refuse", json={"reason": "x"}).status_code == 403
        bad = feed.post("/v1/zone-proposals", json={**body, "geometry": {"type": "Polygon", "coordinates": [RING[:3]]}})
        assert bad.status_code == 422 and "ring" in bad.text
        line = feed.post("/v1/zone-proposals", json={"source": "d2", "name": "Road", "geometry": {
            "type": "LineString", "coordinates": RING[:3]}})  # fmt: skip
        [pending_box, pending_line] = admin.get("/v1/zone-proposals", params={"state": "pending"}).json()
        assert (pending_box["name"], pending_box["party_id"]) == ("Box, redrawn", "a")
        accepted = admin.post(
            f"/v1/zone-proposals/{first.json()['id']}/accept",
            json={"zone_id": "box-1", "kind": "special-caution-area", "properties": {"upper_ft": 5000}},
        )
        assert accepted.status_code == 200, accepted.text
        zone = admin.get("/v1/zones/box-1").json()
        assert zone["properties"]["kind"] == "special-caution-area" and zone["properties"]["upper_ft"] == 5000
        assert "proposed by party a (d1)" in zone["properties"]["description"]
        assert admin.post(f"/v1/zone-proposals/{first.json()['id']}/refuse", json={"reason": "x"}).status_code == 409
        refused = admin.post(f"/v1/zone-proposals/{line.json()['id']}/refuse", json={"reason": "not ours to draw"})
        assert refused.status_code == 200
        states = {p["id"]: p["state"] for p in admin.get("/v1/zone-proposals").json()}
        assert states == {first.json()["id"]: "accepted", line.json()["id"]: "refused"}
        assert pending_line["id"] == line.json()["id"]
        decided = feed.get(f"/v1/zone-proposals/{line.json()['id']}").json()  # the proposer learns why
        assert (decided["state"], decided["reason"]) == ("refused", "not ours to draw")


def test_a_shape_drawn_on_tak_becomes_a_proposal_the_cli_accepts(
    service: Service, pytak: ModuleType, tmp_path: Path
) -> None:
    stats = Stats()
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\npropose_zones: true\n")
    proposer = Proposer(service.url, service.keys["a-feed"], stats)
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    gateway = Gateway(mapping, decoders(on_drawing=proposer.on_drawing), [Endpoint("cot", "tcp", "127.0.0.1", 0)],
                      poster.offer, stats)  # fmt: skip
    poster.start()
    gateway.start()
    try:
        square = [(35.0, 36.0), (35.0, 36.2), (35.2, 36.2), (35.2, 36.0), (35.0, 36.0)]
        pytak_send(pytak, f"tcp://127.0.0.1:{gateway.ports[0]}", [drawing("drawn-1", square)])
        wait_for(lambda: stats.snapshot()["proposals"], what="the proposal")
        proposer.join()
    finally:
        gateway.stop()
        poster.stop()
    data = ["--data-dir", str(service.deployment.settings.data_dir)]
    listed = subprocess.run([KEEPCLEAR, *data, "zones", "proposals"], capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stderr
    [line] = listed.stdout.splitlines()
    assert "party a  Polygon of 5 positions  'Checkpoint box'  from drawn-1  pending" in line
    proposal_id = line.split()[0]
    accepted = subprocess.run(
        [KEEPCLEAR, *data, "zones", "accept", proposal_id, "--zone-id", "drawn-box", "--kind", "special-caution-area"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert accepted.returncode == 0, accepted.stderr
    with service.client("a-liaison") as a:
        assert a.get("/v1/zones/drawn-box").json()["properties"]["name"] == "Checkpoint box"


def _parties_a_and_b(deployment: Deployment) -> None:
    for party_id in ("a", "b"):
        deployment.registry.add_party(Party(party_id, party_id.upper(), "en"))


def test_proposals_are_kept_on_both_stores(deployment: Deployment) -> None:
    _parties_a_and_b(deployment)
    proposals = deployment.zone_proposals
    geometry = {"type": "Polygon", "coordinates": [RING]}
    first, created = proposals.propose("a", "d1", "Box", geometry)
    assert created and proposals.propose("a", "d1", "Box 2", geometry) == (first, False)
    other, _ = proposals.propose("b", "d1", "Their box", geometry)  # the same source of another party: its own
    assert other != first
    proposals.accept(first, "box-1", ZoneKind.SPECIAL_CAUTION_AREA)
    proposals.refuse(other, "no")
    assert {p["id"]: p["state"] for p in proposals.list()} == {first: "accepted", other: "refused"}
    assert proposals.propose("a", "d1", "Box 3", geometry) == (first, False)  # a decision stands
    assert [z.id for z in deployment.zones.list()] == ["box-1"]
    with pytest.raises(ValidationError, match="geometry"):
        proposals.propose("a", "d9", "Bad", {"type": "Point", "coordinates": [1, 2]})
    with pytest.raises(ConflictError):  # decided once: the zone is not imported twice
        proposals.accept(first, "box-2", ZoneKind.SPECIAL_CAUTION_AREA)
    assert [z.id for z in deployment.zones.list()] == ["box-1"]

    # Every change is a record entry staged with it, its proposer the audience (the zone's import: everyone).
    with deployment.db.read() as conn:
        staged = [
            (e.kind, e.audience, json.loads(e.payload))
            for e in outbox.take(conn, time.time() + 1, 100)
            if e.kind != "party.added"
        ]
    kinds = [(kind, audience) for kind, audience, _ in staged]
    assert kinds == [
        ("proposal.submitted", ("a",)), ("proposal.submitted", ("a",)), ("proposal.submitted", ("b",)),
        ("zones.imported", None), ("proposal.accepted", ("a",)), ("proposal.refused", ("b",)),
    ]  # fmt: skip
    assert staged[1][2]["replaces"] is True and staged[1][2]["name"] == "Box 2"
    assert staged[0][2]["geometry_sha256"] == sha256_hex(canonical_bytes(geometry))
    assert staged[4][2] == {"proposal_id": first, "zone_id": "box-1"}
    assert staged[5][2] == {"proposal_id": other, "reason": "no"}


def circle(uid: str, lat_deg: float, lon_deg: float, major_m: float, minor_m: float | None = None) -> bytes:
    """A circle as ATAK draws it (``u-d-c-c``): the centre the event's point, the radius in metres as
    the ellipse's ``major`` and ``minor``, its style a ``link`` inside the shape."""
    now = time.time()
    minor = major_m if minor_m is None else minor_m
    return (
        f'<event version="2.0" uid="{uid}" type="u-d-c-c" how="h-e" time="{format_utc(now)}" '
        f'start="{format_utc(now)}" stale="{format_utc(now + 86400)}"><point lat="{lat_deg}" lon="{lon_deg}" hae="0" '
        f'ce="9999999" le="9999999"/><detail><shape><ellipse major="{major_m}" minor="{minor}" angle="360"/>'
        f'<link uid="{uid}.Style" type="b-x-KmlStyle" relation="p-c"><Style><LineStyle><color>ffffffff</color>'
        '</LineStyle></Style></link></shape><contact callsign="Keep-out ring"/><remarks>well</remarks>'
        '<strokeColor value="-1"/></detail></event>'
    ).encode()


def test_circles_decode_as_points_with_their_radius() -> None:
    found = decode_drawing(circle("c1", 35.1, 36.1, 750.0))
    assert found is not None
    assert found.geometry == {"type": "Point", "coordinates": [36.1, 35.1], "radius_m": 750.0}
    assert (found.uid, found.name, found.remarks) == ("c1", "Keep-out ring", "well")
    assert decode_drawing(circle("c2", 35.1, 36.1, 750.0, 300.0)) is None  # an ellipse: not proposed
    for bad, reason in ((circle("c3", 35.1, 36.1, 0.0), "radius"), (circle("c4", 95.0, 36.1, 10.0), "outside"),
                        (circle("c5", 35.1, 36.1, 5e6), "radius")):  # fmt: skip
        with pytest.raises(ValueError, match=reason):
            decode_drawing(bad)


def test_a_circle_drawn_on_tak_becomes_a_circular_zone(service: Service, pytak: ModuleType) -> None:
    """Drawn as CoT XML on a cot endpoint and as TAK protocol v1 on a tak endpoint: both proposed as
    circles; the accepted one is a zone given as a point with its radius, as the probe reads zones."""
    stats = Stats()
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\npropose_zones: true\n")
    proposer = Proposer(service.url, service.keys["a-feed"], stats)
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    endpoints = [Endpoint("cot", "tcp", "127.0.0.1", 0), Endpoint("tak", "udp", "127.0.0.1", 0)]
    gateway = Gateway(mapping, decoders(on_drawing=proposer.on_drawing), endpoints, poster.offer, stats)
    poster.start()
    gateway.start()
    try:
        pytak_send(pytak, f"tcp://127.0.0.1:{gateway.ports[0]}", [circle("ring-1", 35.1, 36.1, 750.0)])
        mesh = bytes(takproto.xml2proto(circle("ring-2", 35.3, 36.3, 2000.0), takproto.TAKProtoVer.MESH))
        pytak_send(pytak, f"udp+wo://127.0.0.1:{gateway.ports[1]}", [mesh])
        wait_for(lambda: stats.snapshot()["proposals"] >= 2 or None, what="both proposals")
        proposer.join()
    finally:
        gateway.stop()
        poster.stop()
    assert stats.snapshot()["malformed"] == 0 and stats.snapshot()["proposals_refused"] == 0
    data = ["--data-dir", str(service.deployment.settings.data_dir)]
    listed = subprocess.run([KEEPCLEAR, *data, "zones", "proposals"], capture_output=True, text=True, timeout=120)
    assert "Circle of radius 750 m  'Keep-out ring'  from ring-1  pending" in listed.stdout, listed.stderr
    with service.client("admin") as admin:
        by_source = {p["source"]: p for p in admin.get("/v1/zone-proposals").json()}
        ring_1 = by_source["ring-1"]["geometry"]
        assert (ring_1["type"], ring_1["coordinates"]) == ("Point", [36.1, 35.1])
        assert (by_source["ring-1"]["radius_m"], by_source["ring-2"]["radius_m"]) == (750.0, 2000.0)
        assert by_source["ring-2"]["name"] == "Keep-out ring"  # the callsign, from the typed contact
        accepted = admin.post(
            f"/v1/zone-proposals/{by_source['ring-1']['id']}/accept",
            json={"zone_id": "ring-1", "kind": "special-caution-area", "properties": {"upper_ft": 3000}},
        )
        assert accepted.status_code == 200, accepted.text
        zone = admin.get("/v1/zones/ring-1").json()
    assert zone["geometry"] == {"type": "Point", "coordinates": [36.1, 35.1]}
    assert zone["properties"]["radius_m"] == 750.0 and zone["properties"]["upper_ft"] == 3000
    [stored] = [z for z in service.deployment.zones.list() if z.id == "ring-1"]
    assert stored.buffer_m == 750.0  # the zone is the disc, not the centre


def test_circle_proposals_need_a_radius(service: Service) -> None:
    with service.client("a-feed") as feed:
        for radius in (None, 0, -5, 2e6, "750"):
            body = {"source": "c", "name": "Ring", "geometry": {"type": "Point", "coordinates": [36.1, 35.1]}}
            if radius is not None:
                body["geometry"]["radius_m"] = radius  # type: ignore[index]
            refused = feed.post("/v1/zone-proposals", json=body)
            assert refused.status_code == 422 and "radius_m" in refused.text, (radius, refused.text)


def test_two_processes_proposing_a_partys_last_pending_shape_at_once_cannot_both_pass(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two API processes (each its own connections to the store) take a proposal of one party one
    short of its bound of pending ones at the same moment: the second counts only once the first has
    committed (the party's row is locked with the count), so it is refused rather than passing too.
    Without the lock, on PostgreSQL, both counted one and both were stored."""
    _parties_a_and_b(deployment)
    geometry = {"type": "Polygon", "coordinates": [RING]}
    first = ZoneProposals(deployment.db, deployment.clock, deployment.zones, deployment.bus, max_pending_per_party=2)
    other_db = Database(deployment.db.url.render_as_string(hide_password=False))
    second = ZoneProposals(other_db, deployment.clock, deployment.zones, deployment.bus, max_pending_per_party=2)
    first.propose("a", "d1", "The first", geometry)
    held = Held()
    upsert = proposals_store.upsert_pending

    def held_open(conn: Any, values: dict[str, Any]) -> tuple[str, bool]:
        found = upsert(conn, values)
        if values["source"] == "held":
            held.reached()
        return found

    monkeypatch.setattr(proposals_store, "upsert_pending", held_open)
    try:
        answers = race_at_bound(
            lambda: first.propose("a", "held", "Box", geometry),
            lambda: second.propose("a", "racing", "Box", geometry),
            held,
        )
    finally:
        other_db.dispose()
    assert isinstance(answers[0], tuple)
    assert isinstance(answers[1], ConflictError), answers
    with deployment.db.read() as conn:
        assert proposals_store.pending_count(conn, "a") == 2
