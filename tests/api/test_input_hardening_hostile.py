"""Input hardening, found by acting as a hostile or careless party: each test shows a request that once
broke a rule (a 500, or a stored value that made a later read fail) and now is refused as a problem
naming the field, on SQLite and on PostgreSQL (``store_service``)."""

from __future__ import annotations

import json
import math
import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pydantic
import pytest
from apisupport import Service, running_service
from test_api_activities import air_operation
from test_input_hardening import assert_problem, messages, raw, standing_thread

from keepclear.domain.activities import MAX_CONTACT_CHARS, MAX_VERTICES
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.settings import Settings

#: Written in a zone whose UTC instant is in year 0 or year 10000: parseable, never writable back.
#: The last, the final microsecond of the year 9999 in UTC, is the year 10000 as seconds since the
#: epoch (a float, spaced 30 µs apart there): it was stored, and an activity ending then was a 500.
OUT_OF_YEARS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "9999-12-31T23:59:59.999999Z")


def test_times_outside_the_years_1_to_9999_in_utc_are_refused(store_service: Service) -> None:
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        for text in OUT_OF_YEARS:
            incident = raw(a, "POST", "/v1/incidents", {"time": text, "summary": "poison", "parties": ["b"]})
            assert_problem(incident, 422, "time", "9999")
            activity = raw(a, "POST", "/v1/activities", air_operation(end=text))
            assert_problem(activity, 422, "end", "9999")
            history = a.get("/v1/tracks/history", params={"since": "2020-01-01T00:00:00Z", "until": text})
            assert_problem(history, 422, "until")
        for client in (a, b):
            listed = client.get("/v1/incidents")
            assert listed.status_code == 200 and listed.json() == [], listed.text
        # The edge itself is writable, but an incident of the year 1 is refused as too old (naming time).
        edge = raw(a, "POST", "/v1/incidents", {"time": "0001-01-01T00:00:00Z", "summary": "edge", "parties": ["b"]})
        assert_problem(edge, 422, "time: more than 366 days in the past")
        assert b.get("/v1/incidents").json() == []
        # The last whole second of the year 9999 is a time like any other, and reads back as written.
        last = raw(a, "POST", "/v1/activities", air_operation(end="9999-12-31T23:59:59Z"))
        assert last.status_code == 201, last.text
        assert b.get(f"/v1/activities/{last.json()['activity']['id']}").json()["end"] == "9999-12-31T23:59:59Z"
    with store_service.client("admin") as admin:
        before = admin.get("/v1/zones").json()
        for text in OUT_OF_YEARS[1:]:
            zone = {
                "type": "Feature",
                "id": "z-far",
                "geometry": {"type": "Point", "coordinates": [40.0, 35.0]},
                "properties": {"kind": "protected-site", "name": "Site", "radius_m": 500, "valid_until": text},
            }
            imported = raw(admin, "POST", "/v1/zones", {"type": "FeatureCollection", "features": [zone]})
            assert_problem(imported, 422, "valid_until")
        assert admin.get("/v1/zones").json() == before


def _route(half_width_m: float, *points: tuple[float, float]) -> dict[str, Any]:
    """An activity along ``points`` (lat, lon) across its whole window, ``half_width_m`` each side."""
    body = air_operation()
    start_s, end_s = parse_utc(body["start"], "start"), parse_utc(body["end"], "end")
    times = [start_s + (end_s - start_s) * i / (len(points) - 1) for i in range(len(points))]
    waypoints = [{"lat": lat, "lon": lon, "time": format_utc(t)} for (lat, lon), t in zip(points, times, strict=True)]
    route = {"half_width_m": half_width_m, "lower_ft": 0, "upper_ft": 500, "waypoints": waypoints}
    return {**body, "volumes": [], "route": route}


def test_route_corridors_are_judged_before_they_are_drawn(store_service: Service) -> None:
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        # A half-width drawn as nothing (NaN bounds) or as infinity was a 500.
        for half_width_m in (1e-300, 0.5, 1e300, 500_001):
            assert_problem(
                raw(a, "POST", "/v1/activities", _route(half_width_m, (35, 40), (35.1, 40))), 422, "half_width_m"
            )
        # Near a pole the corridor was drawn thousands of degrees wide: seconds of work, hundreds of
        # megabytes of index and the probe's tick late for every party. Past 180° it left the map.
        for points in (((89.99, 0), (90, 90)), ((35, 179.5), (35, 179.9))):
            refused = raw(a, "POST", "/v1/activities", _route(100_000, *points))
            assert_problem(refused, 422, "route.waypoints", "pole")
        for client in (a, b):
            assert client.get("/v1/activities").json() == []
        assert a.post("/v1/activities", json=_route(2_000, (35, 40), (35.1, 40))).status_code == 201


RING = [[40.0, 35.0], [40.5, 35.0], [40.5, 35.5], [40.0, 35.0]]


def test_a_zone_proposal_is_judged_whole_so_the_admins_list_still_reads(store_service: Service) -> None:
    """Only the first ring of a proposed polygon was checked and the geometry was kept as sent: a
    party's proposal with a hole of text or a polygon with a text radius made the admin's list 500."""
    spoilt = {
        "radius_m": {"type": "Polygon", "coordinates": [RING], "radius_m": "x"},
        "ring 1 position 0": {"type": "Polygon", "coordinates": [RING, [["x"]]]},
        "ring 1": {"type": "Polygon", "coordinates": [RING, 5]},
        "altitude 'x'": {"type": "Point", "coordinates": [40, 35, "x"], "radius_m": 100},
        "position 0": {"type": "LineString", "coordinates": [[40, 35, {"a": 1}], [41, 35]]},
        "must be numbers": {"type": "LineString", "coordinates": [[True, 35], [41, 35]]},
        "at most 2000": {"type": "LineString", "coordinates": [[40.0, 35.0]] * 2001},
    }
    with store_service.client("a-liaison") as a, store_service.client("admin") as admin:
        for mention, geometry in spoilt.items():
            proposal = {"source": "drawing-1", "name": "Box", "geometry": geometry}
            assert_problem(raw(a, "POST", "/v1/zone-proposals", proposal), 422, "geometry", mention)
        listed = admin.get("/v1/zone-proposals")
        assert listed.status_code == 200 and listed.json() == [], listed.text
        # What is kept is the geometry's own members: anything else sent along is not stored.
        extra = {"type": "Polygon", "coordinates": [RING], "bbox": [0, 0, 1, 1], "blob": "x" * 1000}
        assert (
            raw(a, "POST", "/v1/zone-proposals", {"source": "s", "name": "Box", "geometry": extra}).status_code == 201
        )
        (kept,) = admin.get("/v1/zone-proposals").json()
        assert kept["geometry"]["coordinates"] == [RING] and "bbox" not in kept["geometry"] and kept["radius_m"] is None


def test_a_zone_proposal_cannot_forge_a_line_of_the_admins_listing(store_service: Service) -> None:
    """A proposal's source is printed as it is by ``keepclear zones proposals``: a line break in it
    printed a made-up proposal of another party, 'accepted'."""
    forged = "tak-1  pending\nzp-000000000000  party b  Polygon of 4 positions  'Agreed'  from tak-9  accepted"
    geometry = {"type": "Polygon", "coordinates": [RING]}
    with store_service.client("a-feed") as feed, store_service.client("admin") as admin:
        for field, value in (("source", forged), ("source", "tak\x1b[8m"), ("name", "Box\r"), ("name", "Box\x85")):
            proposal = {"source": "tak-1", "name": "Box", "geometry": geometry, field: value}
            assert_problem(raw(feed, "POST", "/v1/zone-proposals", proposal), 422, field, "control character")
        assert admin.get("/v1/zone-proposals").json() == []


def test_proposals_an_older_version_stored_unchecked_are_listed_with_their_problems(
    store_service: Service,
) -> None:
    """Proposals stored before they were judged whole (a hole of text, a line break in the source)
    made every later list of the admin's answer 500, or forged a line of the CLI's listing. They are
    listed now with their problems, without the geometry, their text on one line; and refused."""
    import json
    import subprocess
    import sys

    from keepclear.store import zone_proposals as proposals_store

    bad = {
        "zp-old-text-hole": ("tak-1", "Box", {"type": "Polygon", "coordinates": [RING, [["x"]]]}),
        "zp-old-forged": (
            "tak-2\nzp-000000000000  party b  accepted",
            "Box\x1b[8m",
            {"type": "Polygon", "coordinates": [RING]},
        ),
    }
    with store_service.deployment.db.write() as conn:
        for ident, (source, name, geometry) in bad.items():
            proposals_store.upsert_pending(
                conn,
                {
                    "id": ident,
                    "party_id": "a",
                    "source": source,
                    "name": name,
                    "geometry": json.dumps(geometry),
                    "remarks": "",
                    "proposed_s": 1.0,
                },
            )
    good = {"source": "tak-3", "name": "Fine", "geometry": {"type": "Polygon", "coordinates": [RING]}}
    with store_service.client("a-feed") as feed, store_service.client("admin") as admin:
        assert raw(feed, "POST", "/v1/zone-proposals", good).status_code == 201
        listed = admin.get("/v1/zone-proposals")
        assert listed.status_code == 200, listed.text
        by_name = {p["name"]: p for p in listed.json()}
        assert by_name["Fine"]["problems"] == [] and by_name["Fine"]["geometry"]["type"] == "Polygon"
        hole = next(p for p in listed.json() if p["id"] == "zp-old-text-hole")
        assert hole["geometry"] is None and any("ring 1" in problem for problem in hole["problems"]), hole
        forged = next(p for p in listed.json() if p["id"] == "zp-old-forged")
        assert forged["geometry"] is None and "\n" not in forged["source"] and "\x1b" not in forged["name"]
        assert forged["source"].startswith("tak-2\\n") and forged["name"] == "Box\\x1b[8m"
        assert any("control character" in problem for problem in forged["problems"]), forged
        refused = admin.post("/v1/zone-proposals/zp-old-forged/refuse", json={"reason": "unreadable"})
        assert refused.status_code == 200, refused.text
        accepted = admin.post(
            "/v1/zone-proposals/zp-old-text-hole/accept", json={"zone_id": "z-hole", "kind": "special-caution-area"}
        )
        assert_problem(accepted, 422)
    settings = store_service.deployment.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        where += ["--database-url", settings.database_url]
    for state, shown in (("pending", {"zp-old-text-hole"}), ("refused", {"zp-old-forged"})):
        cli = [sys.executable, "-m", "keepclear.cli.main", *where, "zones", "proposals", "--state", state]
        printed = subprocess.run(cli, capture_output=True, text=True, timeout=120)
        assert printed.returncode == 0, printed.stderr
        lines = printed.stdout.splitlines()  # one line a proposal: none forged
        assert all(line.startswith("zp-") for line in lines), lines
        assert shown <= {line.split()[0] for line in lines} and len(lines) == 1 + (state == "pending"), lines
        assert all("unreadable" in line for line in lines if line.split()[0] in shown), lines


def test_a_party_keeps_a_bounded_number_of_proposals_pending(store_service: Service) -> None:
    """Every source was a new pending proposal, kept until an admin decides: a feed posting 34 a second
    grew the admin's unpaged list without bound (300 of them: 10 MB, 2 s, late ticks)."""
    geometry = {"type": "Polygon", "coordinates": [RING]}
    most = store_service.deployment.settings.max_pending_zone_proposals_per_party  # 200
    with store_service.client("a-feed") as feed, store_service.client("admin") as admin:
        for index in range(most):
            proposal = {"source": f"tak-{index}", "name": "Box", "geometry": geometry}
            assert raw(feed, "POST", "/v1/zone-proposals", proposal).status_code == 201
        one_more = {"source": f"tak-{most}", "name": "Box", "geometry": geometry}
        assert_problem(raw(feed, "POST", "/v1/zone-proposals", one_more), 409, f"{most} proposals pending")
        # A pending one redrawn replaces itself; a decision makes room.
        redrawn = {"source": "tak-0", "name": "Box, redrawn", "geometry": geometry}
        assert raw(feed, "POST", "/v1/zone-proposals", redrawn).status_code == 201
        first = admin.get("/v1/zone-proposals").json()[0]["id"]
        assert admin.post(f"/v1/zone-proposals/{first}/refuse", json={"reason": "no"}).status_code == 200
        assert raw(feed, "POST", "/v1/zone-proposals", one_more).status_code == 201
        counters = admin.get("/v1/metrics").json()["counters"]
        assert counters["zone_proposals_pending"] == most and counters["zone_proposals_pending_per_party_limit"] == most
    with store_service.client("b-feed") as other:  # the bound is each party's own
        assert raw(other, "POST", "/v1/zone-proposals", {**one_more, "source": "b-1"}).status_code == 201


def test_a_body_is_read_only_from_a_caller_with_a_key(store_service: Service) -> None:
    """The gate parsed a body before any route asked for a key: 8 MB of JSON from anyone who reached the
    port cost 3.4 s of the interpreter (json holds it throughout), the probe's tick late for everyone."""
    anyone = {"Content-Type": "application/json"}
    bogus = {**anyone, "Authorization": "Bearer kc_0000000000000000_not-a-secret"}
    with httpx.Client(base_url=store_service.url) as client:
        for headers in (anyone, bogus):
            refused = client.post("/v1/activities", content=b'{"text": NaN', headers=headers)
            assert_problem(refused, 401)
            assert refused.headers["www-authenticate"].startswith("Bearer")
    # Refused before a byte of the body is read: a body announced and never sent is not waited for.
    host, port = store_service.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw_socket:
        raw_socket.sendall(
            b"POST /v1/activities HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 8000000\r\n\r\n"
        )
        assert raw_socket.recv(4096).startswith(b"HTTP/1.1 401 ")
    with store_service.client("a-liaison") as a:  # a caller with a key is judged as before
        assert_problem(a.post("/v1/activities", content=b'{"text": NaN}', headers=anyone), 422, "NaN")


def _ring(vertices: int, lon_deg: float = 40.0) -> list[list[float]]:
    """A closed ring of ``vertices`` positions (the last the first) around (``lon_deg``, 35)."""
    points = [
        [
            lon_deg + 0.1 * math.cos(2 * math.pi * i / (vertices - 1)),
            35 + 0.1 * math.sin(2 * math.pi * i / (vertices - 1)),
        ]
        for i in range(vertices - 1)
    ]
    return [*points, points[0]]


def test_an_activitys_polygons_are_bounded_in_positions(store_service: Service) -> None:
    """64 volumes of 10,000 positions (16 MB) took 11 s of one request, 255 MB, and left the probe's
    tick 1.2 s late for everyone; every later list of activities carried the 15 MB."""

    def volume(vertices: int, index: int) -> dict[str, Any]:
        return {
            "geometry": {"type": "Polygon", "coordinates": [_ring(vertices, 40.0 + 0.001 * index)]},
            "lower_ft": 0,
            "upper_ft": 1000,
        }

    most = MAX_VERTICES
    with store_service.client("a-liaison") as a:
        over = [volume(most // 4, i) for i in range(4)] + [volume(4, 4)]
        assert_problem(raw(a, "POST", "/v1/activities", air_operation(volumes=over)), 422, "volumes", str(most))
        batch = {"activities": [air_operation(volumes=over)]}
        assert_problem(raw(a, "POST", "/v1/activities/batch", batch), 422, "activities[0].volumes", str(most))
        assert a.get("/v1/activities").json() == []
        at_most = [volume(most // 4, i) for i in range(4)]
        assert raw(a, "POST", "/v1/activities", air_operation(volumes=at_most)).status_code == 201


def test_an_activitys_contact_is_bounded(store_service: Service) -> None:
    """The text was bounded (4,000 characters), the contact not: megabytes of it went to every
    addressee's list, stream and record entry."""
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        refused = raw(a, "POST", "/v1/activities", air_operation(contact="C" * (MAX_CONTACT_CHARS + 1)))
        assert_problem(refused, 422, "contact", str(MAX_CONTACT_CHARS))
        assert b.get("/v1/activities").json() == []
        assert raw(a, "POST", "/v1/activities", air_operation(contact="C" * MAX_CONTACT_CHARS)).status_code == 201


def test_an_activity_whose_check_would_hold_every_notification_for_seconds_is_refused(tmp_path: Path) -> None:
    """499 zigzag legs over 20 alike routes of other parties cost 34 s of exact geometry, holding the
    activity write lock (every party's notifications waiting). Past ``activity_check_max_exact_pairs``
    the activity is refused as input, and nothing of it is stored."""
    zigzag = [(35.0 + 0.05 * (i % 2), 40.0 + 0.002 * i) for i in range(40)]
    with (
        running_service(tmp_path / "data", activity_check_max_exact_pairs=100) as service,
        service.client("a-liaison") as a,
        service.client("b-liaison") as b,
    ):
        assert raw(a, "POST", "/v1/activities", _route(2000, *zigzag)).status_code == 201
        before = b.get("/v1/activities").json()
        theirs = {"addressees": ["a"], "units": ["ub"]}
        refused = raw(b, "POST", "/v1/activities", {**_route(2000, *zigzag[::-1]), **theirs})
        assert_problem(refused, 422, "activity_check_max_exact_pairs", "volume")
        assert b.get("/v1/activities").json() == before
        far = _route(2000, *[(lat + 1.0, lon) for lat, lon in zigzag])
        alone = raw(b, "POST", "/v1/activities", {**far, **theirs})
        assert alone.status_code == 201, alone.text  # far from a's: nothing to judge exactly


def test_a_header_the_gate_judges_may_be_given_once(store_service: Service) -> None:
    """The gate and the routes must judge the same value: a second ``X-Keepclear-Person`` (the gate
    read the last, the routes the first), ``Authorization`` or ``Content-Type`` is refused with 400
    naming the header, and nothing is stored."""
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        post = f"/v1/hotline/threads/{thread}/messages"
        body = json.dumps({"idempotency_key": "twice-001", "body": "x"}).encode()
        key = a.headers["Authorization"]
        cases = {
            "x-keepclear-person": [("X-Keepclear-Person", "p" * 300), ("X-Keepclear-Person", "Duty officer")],
            "authorization": [("Authorization", "Bearer kc_nobody_x"), ("Authorization", key)],
            "content-type": [("Content-Type", "text/plain"), ("Content-Type", "application/json")],
        }
        for name, headers in cases.items():
            others = [
                (k, v) for k, v in [("Authorization", key), ("Content-Type", "application/json")] if k.lower() != name
            ]
            sent = httpx.Request("POST", a.base_url.join(post), content=body, headers=[*others, *headers])
            assert_problem(a.send(sent), 400, name, "once")
            got = httpx.Request("GET", a.base_url.join("/v1/me"), headers=[*others, *headers])
            assert_problem(a.send(got), 400, name)
        assert all(m["idempotency_key"] != "twice-001" for m in messages(a, thread))
        assert a.get("/v1/me", headers={"X-Keepclear-Person": "Duty officer"}).json()["person"] == "Duty officer"


def test_a_person_longer_than_the_stores_keep_cannot_be_allowed(tmp_path: Path) -> None:
    """The stores keep 200 characters of a person's name: a longer ``max_person_chars`` is refused by
    name (before, a longer name passed the gate and was cut to 200 without a word)."""
    with pytest.raises(pydantic.ValidationError, match="max_person_chars"):
        Settings(data_dir=tmp_path, max_person_chars=201)
    assert Settings(data_dir=tmp_path, max_person_chars=200).max_person_chars == 200


def test_an_object_giving_a_key_twice_is_refused_naming_the_key(store_service: Service) -> None:
    """One reader takes a repeated key's first value, another its last: keepclear keeps neither and
    says which key (I-JSON), in a message body as deep in an activity, and stores nothing."""
    with store_service.client("a-liaison") as a:
        thread = standing_thread(a)
        post = f"/v1/hotline/threads/{thread}/messages"
        twice = b'{"idempotency_key": "dup-key-001", "body": "first", "body": "second"}'
        assert_problem(
            a.post(post, content=twice, headers={"Content-Type": "application/json"}), 422, "'body'", "twice"
        )
        activity = json.dumps(air_operation(id="dup-key-activity")).encode()
        nested = activity.replace(b'"lower_ft": ', b'"lower_ft": 1, "lower_ft": ', 1)
        assert nested != activity
        assert_problem(
            a.post("/v1/activities", content=nested, headers={"Content-Type": "application/json"}),
            422,
            "'lower_ft'",
            "twice",
        )
        assert all(m["idempotency_key"] != "dup-key-001" for m in messages(a, thread))
        assert a.get("/v1/activities/dup-key-activity").status_code == 404
        once = b'{"idempotency_key": "dup-key-002", "body": "only", "data": {"a": {"x": 1}, "b": {"x": 2}}}'
        assert a.post(post, content=once, headers={"Content-Type": "application/json"}).status_code == 201


def test_an_incident_cannot_forge_a_line_of_the_admins_incident_listing(
    store_service: Service, database_url: str, tmp_path: Path
) -> None:
    """``keepclear incident list`` printed a summary as it is, and ``incident show`` a summary and
    each account: a line break in a party's summary printed a made-up incident, 'closed', of parties
    it never involved; ESC began a terminal's escape sequence. A summary and an account are text of
    several lines (kept as sent, read as sent over the API); the CLI writes each on one line, every
    control character as its escape."""
    from click.testing import CliRunner

    from keepclear.cli.main import cli

    forged = "near miss\ninc-00000000000000000000\t2017-11-01T12:00:00Z\tseparation-loss\tclosed\tb,c\tagreed"
    with store_service.client("a-liaison") as a:
        made = a.post("/v1/incidents", json={"time": format_utc(time.time() - 60), "summary": forged + "\x1b[8m"})
        assert made.status_code == 201, made.text
        incident_id = made.json()["id"]
        account = a.post(f"/v1/incidents/{incident_id}/accounts", json={"text": "ours\naccount #9 by b at now:"})
        assert account.status_code == 201, account.text
        assert a.get(f"/v1/incidents/{incident_id}").json()["summary"] == forged + "\x1b[8m"
    place = ["--data-dir", str(tmp_path / "data"), "--database-url", database_url, "incident"]
    listed = CliRunner().invoke(cli, [*place, "list"])
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(incident_id), lines
    assert "\x1b" not in listed.output and "near miss\\ninc-" in lines[0] and lines[0].endswith("\\x1b[8m")
    shown = CliRunner().invoke(cli, [*place, "show", incident_id])
    assert shown.exit_code == 0, shown.output
    assert "\x1b" not in shown.output and "\ninc-0000" not in shown.output and "\naccount #9" not in shown.output
    assert "ours\\naccount #9 by b" in shown.output
