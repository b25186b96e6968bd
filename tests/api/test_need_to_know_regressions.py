"""The five holes of issue 14, each pinned by a test named after its class, on both stores, and the
holes found since (an audit acting as a hostile party).

Three parties a, b, c (see ``nksupport``): an alert between a and b is none of c's business; b's
intruder in a's zone is a's and b's business only.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apisupport import Service
from nksupport import alert_between, intruder_gone, intruder_inside, problem, report, served, stream_once
from test_api_activities import air_operation
from test_api_hotline_ws import frames_until, socket
from websockets.exceptions import ConnectionClosed

from keepclear.domain.timefmt import format_utc
from keepclear.ledger.verify import verify_document


@pytest.fixture
def service(database_url: str, tmp_path: Path) -> Iterator[Service]:
    with served(database_url, tmp_path) as running:
        yield running


def incident(**fields: Any) -> dict[str, Any]:
    return {"time": format_utc(time.time() - 60), "summary": "near miss", **fields}


def incident_count(service: Service) -> int:
    with service.client("admin") as admin:
        return len(admin.get("/v1/incidents").json())


def test_naming_foreign_alert_or_unit_in_incident_is_refused_as_unknown(service: Service) -> None:
    alert_id = alert_between(service, "ua", "ub")
    before = incident_count(service)
    with service.client("c-liaison") as c:
        by_alert = c.post("/v1/incidents", json=incident(alert_ids=[alert_id]))
        made_up_alert = c.post("/v1/incidents", json=incident(alert_ids=["alert-999999"]))
        by_unit = c.post("/v1/incidents", json=incident(unit_ids=["ua"]))
        made_up_unit = c.post("/v1/incidents", json=incident(unit_ids=["no-such-unit"]))
        assert by_alert.status_code == 422 and by_unit.status_code == 422
        assert problem(by_alert, alert_id) == problem(made_up_alert, "alert-999999")
        assert problem(by_unit, "ua") == problem(made_up_unit, "no-such-unit")
        assert by_alert.json()["errors"] == [f"alert_ids[0]: unknown alert {alert_id!r}"]
        assert c.get("/v1/incidents").json() == []
    assert incident_count(service) == before  # nothing stored
    with service.client("a-liaison") as a:  # a party involved may name the alert and the other unit
        named = a.post("/v1/incidents", json=incident(alert_ids=[alert_id], unit_ids=["ua", "ub"]))
        assert named.status_code == 201, named.text
    with service.client("c-liaison") as c:
        hidden = c.get(f"/v1/incidents/{named.json()['id']}")
        assert problem(hidden, named.json()["id"]) == problem(c.get("/v1/incidents/inc-nope"), "inc-nope")


def test_foreign_and_made_up_ids_answer_identically(service: Service) -> None:
    alert_id = alert_between(service, "ua", "ub")
    with service.client("a-liaison") as a:
        activity_id = a.post("/v1/activities", json=air_operation(addressees=["b"])).json()["activity"]["id"]
        thread_id = next(t["id"] for t in a.get("/v1/hotline/threads").json() if set(t["parties"]) == {"a", "b"})
        incident_id = a.post("/v1/incidents", json=incident(parties=["b"])).json()["id"]
    made_up = {"alert": "alert-424242", "activity": "a-nope", "thread": "t-nope", "incident": "inc-nope"}
    foreign = {"alert": alert_id, "activity": activity_id, "thread": thread_id, "incident": incident_id}
    requests = [
        ("POST", "/v1/alerts/{alert}/acknowledge", None),
        ("GET", "/v1/activities/{activity}", None),
        ("POST", "/v1/activities/{activity}/acknowledge", {"version": 1}),
        ("GET", "/v1/hotline/threads/{thread}/messages", None),
        ("GET", "/v1/incidents/{incident}", None),
        ("GET", "/v1/incidents/{incident}/report", None),
        ("POST", "/v1/incidents/{incident}/accounts", {"text": "ours"}),
        ("POST", "/v1/incidents/{incident}/review", {"status": "closed"}),
    ]
    with service.client("c-liaison") as c:
        for method, path, body in requests:
            kind = path.split("{")[1].split("}")[0]
            theirs = c.request(method, path.format(**foreign), json=body)
            nothing = c.request(method, path.format(**made_up), json=body)
            assert theirs.status_code == 404, (path, theirs.text)
            assert problem(theirs, foreign[kind]) == problem(nothing, made_up[kind]), (theirs.text, nothing.text)
    with service.client("c-feed") as feed:
        now = format_utc(time.time())
        rows = [{"unit_id": u, "time": now, "lat_deg": 35.0, "lon_deg": 38.0} for u in ("ua", "nobody")]
        refused = {
            r["unit_id"]: r["problems"] for r in feed.post("/v1/tracks", json={"reports": rows}).json()["refused"]
        }
        assert [p.replace("'ua'", "<id>") for p in refused["ua"]] == [
            p.replace("'nobody'", "<id>") for p in refused["nobody"]
        ]


def test_a_new_activity_id_cannot_probe_for_another_partys_activity(service: Service) -> None:
    """Activity ids are one namespace; a party's new ids begin with its own id, so a notification
    naming another party's activity id reads exactly as one naming a made-up id (no 409 to learn
    from), alone or in a batch, and stores nothing."""
    with service.client("a-liaison") as a:
        taken = a.post("/v1/activities", json=air_operation(id="a-strike-0412", addressees=["b"]))
        assert taken.status_code == 201, taken.text
        again = a.post("/v1/activities", json=air_operation(id="a-strike-0412", addressees=["b"]))
        assert again.status_code == 409  # its own id: it may learn that it used it already
    with service.client("c-liaison") as c:
        before = len(c.get("/v1/activities").json())
        for path, body_of in (
            ("/v1/activities", lambda i: air_operation(id=i, units=[], addressees=["b"])),
            ("/v1/activities/batch", lambda i: {"activities": [air_operation(id=i, units=[], addressees=["b"])]}),
        ):
            theirs = c.post(path, json=body_of("a-strike-0412"))
            nothing = c.post(path, json=body_of("a-strike-0413"))
            assert theirs.status_code == 422, theirs.text
            assert problem(theirs, "a-strike-0412") == problem(nothing, "a-strike-0413"), (theirs.text, nothing.text)
            assert "must begin with 'c-'" in theirs.text
        assert len(c.get("/v1/activities").json()) == before


def test_made_up_references_are_refused(service: Service) -> None:
    before = incident_count(service)
    with service.client("a-liaison") as a:
        answer = a.post(
            "/v1/incidents",
            json=incident(
                unit_ids=["ua", "ghost"],
                alert_ids=["alert-31337"],
                message_ids=["t-nope#1"],
                parties=["nobody"],
                zone_id="nowhere",
            ),
        )
    assert answer.status_code == 422, answer.text
    assert answer.json()["errors"] == [
        "unit_ids[1]: unknown unit 'ghost'",
        "alert_ids[0]: unknown alert 'alert-31337'",
        "message_ids[0]: unknown message 't-nope#1'",
        "parties[0]: unknown party 'nobody'",
        "zone_id[0]: unknown zone 'nowhere'",
    ]
    assert incident_count(service) == before


def test_export_withholds_payloads_outside_audience(service: Service) -> None:
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        first = a.post("/v1/activities", json=air_operation(addressees=["c"]))
        assert first.status_code == 201, first.text
        # b's operation overlaps a's: keepclear signs, as b's entry, the overlap meant for a only.
        second = b.post("/v1/activities", json=air_operation(addressees=["c"], units=["ub"]))
        assert second.status_code == 201 and second.json()["conflicts"], second.text
        export = b.get("/v1/record/export").json()
    shown = [entry for entry in export["entries"] if "statement" in entry]
    for entry in shown:
        statement = entry["statement"]
        audience = statement["audience"]
        assert audience is None or "b" in audience or statement["kind"].startswith(("key.", "ledger.")), entry
        assert entry["payload"] is not None, entry
    # b's own conflict entry addressed to a is a placeholder in b's export: its statement stays with a
    conflicts = [e for e in shown if e["statement"]["kind"] == "activity.conflict"]
    assert all(e["statement"]["audience"] != ["a"] for e in conflicts), conflicts
    withheld = len(export["entries"]) - len(shown)
    assert withheld >= 1
    report = verify_document(export)
    assert report.ok and report.redacted == withheld  # the chain still verifies through the placeholders


def test_zone_intruder_visible_to_permitted_parties_only(service: Service) -> None:
    intruder_inside(service)

    def tracked(who: str) -> set[str]:
        with service.client(who) as client:
            return {s["unit_id"] for s in client.get("/v1/tracks").json()}

    deadline = time.monotonic() + 10
    while "ub-x" not in tracked("a-observer") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ub-x" in tracked("a-observer") and "ub-x" in tracked("b-observer")
    assert "ub-x" not in tracked("c-observer")
    kinds = {who: {e["kind"] for e in stream_once(service, who)} for who in ("a-liaison", "c-liaison")}
    assert "zone.entered" in kinds["a-liaison"] and "zone.entered" not in kinds["c-liaison"]
    with service.client("admin") as admin:
        opened = [i for i in admin.get("/v1/incidents").json() if i["unit_ids"] == ["ub-x"]]
    assert opened and all(set(i["parties"]) == {"a", "b"} for i in opened)
    with service.client("c-observer") as c:
        assert c.get("/v1/incidents").json() == []
        for entry in c.get("/v1/record/export").json()["entries"]:
            assert "ub-x" not in str(entry.get("payload")), entry
        for thread in c.get("/v1/hotline/threads").json():
            assert "ub-x" not in c.get(f"/v1/hotline/threads/{thread['id']}/messages").text
    intruder_gone(service)
    deadline = time.monotonic() + 10
    while "ub-x" in tracked("a-observer") and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "ub-x" not in tracked("a-observer")  # from entry until it leaves


def test_a_revoked_keys_open_stream_and_socket_end_at_once(service: Service) -> None:
    """Revoking a key refuses its next request and ends what it holds open: its stream and its
    hotline socket get nothing of what happens afterwards (a notification addressed to its party)."""
    key_id = service.keys["c-liaison"].split("_")[1]
    with (
        service.client("c-liaison") as c,
        c.stream("GET", "/v1/stream") as stream,
        socket(service, "c-liaison") as ws,
    ):
        assert stream.status_code == 200
        frames_until(ws, lambda frame: frame["type"] == "resumed")
        with service.client("admin") as admin:
            assert admin.delete(f"/v1/keys/{key_id}").status_code == 204
        assert c.get("/v1/activities").status_code == 401
        with service.client("a-liaison") as a:
            assert a.post("/v1/activities", json=air_operation(addressees=["c"])).status_code == 201
        lines, deadline = [], time.monotonic() + 10
        try:
            for line in stream.iter_lines():
                lines.append(line)
                if time.monotonic() > deadline:
                    break
        except httpx.HTTPError:
            pass  # the server ended the stream unfinished, as it does for a cut client
        assert time.monotonic() <= deadline, "the revoked key's stream is still open"
        assert not any(line.startswith("event: activity") or "message.posted" in line for line in lines), lines
        frames: list[dict[str, Any]] = []
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                frame = json.loads(ws.recv(timeout=10))
                frames += frame["frames"] if frame["type"] == "batch" else [frame]
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
        assert [f["type"] for f in frames] == ["error"] and frames[0]["problems"] == ["API key revoked"], frames


def test_an_addressee_is_not_told_how_many_conflicts_the_activity_has(service: Service) -> None:
    """An activity's conflicts are its notifier's to know: an addressee's notice (stream, record) holds
    the addressee's view only, not even their count (which would say that some party it is not told
    about has an activity there and then)."""
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        assert a.post("/v1/activities", json=air_operation(addressees=["b"])).status_code == 201
        overlapping = b.post("/v1/activities", json=air_operation(addressees=["c"], units=["ub"]))
        assert overlapping.status_code == 201 and overlapping.json()["conflicts"], overlapping.text
    activity_id = overlapping.json()["activity"]["id"]
    notices = [e["payload"] for e in stream_once(service, "c-liaison") if e["kind"] == "activity.notified"]
    assert [n["activity"]["id"] for n in notices] == [activity_id]
    assert notices == [{"activity": notices[0]["activity"]}], notices
    with service.client("c-observer") as c:
        entries = c.get("/v1/record/export").json()["entries"]
    recorded = [e["payload"] for e in entries if "statement" in e and e["statement"]["kind"] == "activity.notified"]
    assert recorded and all("conflicts" not in json.dumps(p) for p in recorded), recorded


def test_an_overlapped_party_is_not_shown_the_other_partys_activity_nor_its_id(service: Service) -> None:
    """A party whose activity another party's overlaps sees the overlap on its own activity
    (``overlapped_by``: where, when, which band), never the other activity: not in its list, and its id
    (a name the notifier chose, which can say what the activity is) answers as a made-up one."""
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        mine = a.post("/v1/activities", json=air_operation(addressees=["b"]))
        assert mine.status_code == 201, mine.text
        theirs = b.post(
            "/v1/activities", json={**air_operation(addressees=["c"], units=["ub"]), "id": "b-strike-on-village-x"}
        )
        assert theirs.status_code == 201 and theirs.json()["conflicts"], theirs.text
        listed = a.get("/v1/activities").json()
        assert [v["id"] for v in listed] == [mine.json()["activity"]["id"]], listed
        assert "village-x" not in json.dumps(listed)
        [overlap] = listed[0]["overlapped_by"]
        assert overlap["your_activity_id"] == mine.json()["activity"]["id"] and overlap["geometry"]["type"]
        named = a.get("/v1/activities/b-strike-on-village-x")
        made_up = a.get("/v1/activities/b-strike-on-village-y")
        assert named.status_code == made_up.status_code == 404
        assert named.json()["detail"].replace("village-x", "village-y") == made_up.json()["detail"]
        # b amends its activity away: the overlap is no longer shown on a's.
        b_view = b.get("/v1/activities/b-strike-on-village-x").json()
        moved = air_operation(addressees=["c"], units=["ub"])
        away = [[[lon, lat + 3.0] for lon, lat in moved["volumes"][0]["geometry"]["coordinates"][0]]]
        moved["volumes"] = [{**moved["volumes"][0], "geometry": {"type": "Polygon", "coordinates": away}}]
        amended = b.post(
            "/v1/activities/b-strike-on-village-x/amend", json={"version": b_view["version"], "activity": moved}
        )
        assert amended.status_code == 200, amended.text
        assert a.get(f"/v1/activities/{mine.json()['activity']['id']}").json()["overlapped_by"] == []


def test_involving_a_party_does_not_tell_whether_it_had_an_alert_with_a_unit(
    service: Service, other_database_url: str, tmp_path: Path
) -> None:
    """Two worlds alike for a: an alert between ua and ub, and c somewhere. In one, c also had an alert
    with ub; in the other not. a's report naming ub and involving c answers byte for byte the same in
    both (refused: a cannot know that c may see ub), so it cannot tell which world it is in; involving
    b, ub's own party, is accepted in both."""
    body = incident(unit_ids=["ub"], parties=["c"])
    answers = []
    with served(other_database_url, tmp_path / "other") as other:
        for world, c_had_alert in ((service, True), (other, False)):
            if c_had_alert:
                alert_between(world, "uc", "ub", lat_deg=36.0)
            else:
                report(world, [("uc", 36.0, 38.0, 220.0, 0.0)])
            alert_between(world, "ua", "ub")
            with world.client("c-liaison") as c:
                c_alerts = c.get("/v1/alerts", params={"include_resolved": "true"}).json()
            assert any("ub" in (x["unit_a"], x["unit_b"]) for x in c_alerts) == c_had_alert, c_alerts
            before = incident_count(world)
            with world.client("a-liaison") as a:
                answers.append(a.post("/v1/incidents", json=body))
                assert incident_count(world) == before  # nothing stored
                to_owner = a.post("/v1/incidents", json={**body, "parties": ["b"]})
                assert to_owner.status_code == 201, to_owner.text
    first, second = answers
    assert (first.status_code, first.content) == (second.status_code, second.content)
    assert first.status_code == 422
    assert first.json()["errors"] == ["parties[0]: 'c' may not be shown unit 'ub' by this report"]


def test_a_report_on_an_intruder_may_involve_the_zones_witnesses_only(service: Service) -> None:
    """b's ub-x inside roz-a (only a may enter) is seen by a and b: a may involve b in a report on
    it, not c (which does not see it), in the same words as for any party it cannot know sees it."""
    intruder_inside(service)
    deadline = time.monotonic() + 10
    with service.client("a-liaison") as a:
        while "ub-x" not in {s["unit_id"] for s in a.get("/v1/tracks").json()} and time.monotonic() < deadline:
            time.sleep(0.2)
        witnessed = a.post("/v1/incidents", json=incident(unit_ids=["ub-x"], parties=["b"]))
        assert witnessed.status_code == 201, witnessed.text
        refused = a.post("/v1/incidents", json=incident(unit_ids=["ub-x", "ua"], parties=["b", "c"]))
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == ["parties[1]: 'c' may not be shown unit 'ub-x' by this report"]


def test_an_addressee_does_not_learn_the_other_addressees_from_the_record(service: Service) -> None:
    """An activity notified to b and c was one record entry with the audience [a, b, c]: b read it, and
    so that c was addressed too ("never the other addressees"). Each addressee now has its own entry."""
    with service.client("a-liaison") as a:
        notified = a.post("/v1/activities", json=air_operation(addressees=["b", "c"]))
        assert notified.status_code == 201, notified.text
        activity_id = notified.json()["activity"]["id"]
        cancelled = a.post(f"/v1/activities/{activity_id}/cancel", json={"version": 1, "reason": "weather"})
        assert cancelled.status_code == 200, cancelled.text
        mine = [e for e in a.get("/v1/record/export").json()["entries"] if "statement" in e]
    for who in ("b", "c"):
        with service.client(f"{who}-observer") as reader:
            shown = [e["statement"] for e in reader.get("/v1/record/export").json()["entries"] if "statement" in e]
        about = [s for s in shown if s["kind"] in ("activity.notified", "activity.cancelled")]
        assert sorted(s["kind"] for s in about) == ["activity.cancelled", "activity.notified"], about
        assert all(s["audience"] == ["a", who] for s in about), about
    # The notifier reads every addressee's entry: it knows whom it addressed.
    notified_audiences = sorted(
        e["statement"]["audience"] for e in mine if e["statement"]["kind"] == "activity.notified"
    )
    assert notified_audiences == [["a", "b"], ["a", "c"]], notified_audiences


def test_a_report_cannot_reach_back_for_another_partys_unit_before_it_was_shown(
    database_url: str, tmp_path: Path
) -> None:
    """b sees ua only while their alert is active, so it may name ua in a report; its ``time`` chose
    the evidence window, and a report timed long before the alert froze ua's tracks of then (the
    track history's hours, one window a report) into evidence b reads. Another party's unit may now
    be named only at a time within the evidence window of when the reporter was shown it."""
    with served(database_url, tmp_path, incident_evidence_window_s=60.0) as service:
        report(service, [("ua", 33.0, 36.0, 0.0, 0.0)], age_s=300.0)  # where ua was, b not told
        alert_id = alert_between(service, "ua", "ub")
        before = incident_count(service)
        with service.client("b-liaison") as b:
            early = b.post("/v1/incidents", json=incident(unit_ids=["ua"], time=format_utc(time.time() - 300)))
            assert early.status_code == 422, early.text
            assert early.json()["errors"] == [
                "unit_ids[0]: another party's unit 'ua' may be named only within 60 s "
                "(incident_evidence_window_s) of a time this party was shown it"
            ]
            assert incident_count(service) == before  # nothing stored, no evidence frozen
            own = b.post("/v1/incidents", json=incident(unit_ids=["ub"], time=format_utc(time.time() - 300)))
            assert own.status_code == 201, own.text  # its own unit: any time
            at_alert = b.post("/v1/incidents", json=incident(unit_ids=["ua"], alert_ids=[alert_id]))
            assert at_alert.status_code == 201, at_alert.text


def test_a_withdrawal_is_not_posted_between_two_addressees(service: Service) -> None:
    """An amendment that dropped b and c posted its withdrawal notice in the b–c standing thread (the
    event is told to the dropped addressees, not to the notifier, and the notice went to "every pair"
    of them): each learnt that the other had been addressed too. It goes to each in its thread with a."""
    from keepclear.domain import Party

    service.deployment.registry.add_party(Party("d", "D"))
    with service.client("a-liaison") as a:
        notified = a.post("/v1/activities", json=air_operation(addressees=["b", "c"]))
        assert notified.status_code == 201, notified.text
        activity_id = notified.json()["activity"]["id"]
        amended = a.post(
            f"/v1/activities/{activity_id}/amend", json={"version": 1, "activity": air_operation(addressees=["d"])}
        )
        assert amended.status_code == 200, amended.text
    for who, other in (("b", "c"), ("c", "b")):
        with service.client(f"{who}-observer") as reader:
            deadline = time.monotonic() + 20
            while True:
                seen = {}
                for thread in reader.get("/v1/hotline/threads").json():
                    messages = reader.get(f"/v1/hotline/threads/{thread['id']}/messages").json()
                    seen[tuple(sorted(thread["parties"]))] = [(m["data"] or {}).get("event") for m in messages]
                if "activity.withdrawn" in seen.get(tuple(sorted(("a", who))), []) or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        assert seen[tuple(sorted(("a", who)))] == ["activity.notified", "activity.withdrawn"], seen
        assert seen[tuple(sorted((who, other)))] == [], seen
