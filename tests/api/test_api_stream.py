"""Server-sent events: each party gets the events that concern it, live, and catches up on reconnect."""

from __future__ import annotations

import json

from apisupport import Service, SseReader

from keepclear.domain import Domain, Unit


def test_events_reach_only_the_parties_they_concern(service: Service):
    a = SseReader(service, "a-liaison")
    b = SseReader(service, "b-liaison")
    try:
        service.deployment.registry.add_unit(Unit("ua2", "ALPHA3", Domain.SEA, "frigate", "fa"))
        seen = a.wait_for(lambda e: e["kind"] == "unit.added")
        assert seen["payload"]["unit_id"] == "ua2"
        service.deployment.registry.add_unit(Unit("ub2", "BRAVO3", Domain.SEA, "frigate", "fb"))
        b.wait_for(lambda e: e["kind"] == "unit.added" and e["payload"]["unit_id"] == "ub2")
        assert [e["payload"]["unit_id"] for e in a.events if e["kind"] == "unit.added"] == ["ua2"]
        assert [e["payload"]["unit_id"] for e in b.events if e["kind"] == "unit.added"] == ["ub2"]
    finally:
        a.close()
        b.close()


def test_reconnect_with_last_event_id_catches_up_exactly_once(service: Service):
    first = SseReader(service, "a-liaison")
    service.deployment.registry.add_unit(Unit("ua3", "A3", Domain.LAND, "convoy", "fa"))
    seen = first.wait_for(lambda e: e["kind"] == "unit.added")
    first.close()
    for n in (4, 5):
        service.deployment.registry.add_unit(Unit(f"ua{n}", f"A{n}", Domain.LAND, "convoy", "fa"))
    again = SseReader(service, "a-liaison", last_event_id=str(seen["id"]))
    try:
        again.wait_for(lambda e: e["payload"].get("unit_id") == "ua5")
        units = [e["payload"]["unit_id"] for e in again.events if e["kind"] == "unit.added"]
        assert units == ["ua4", "ua5"]
    finally:
        again.close()


def test_feed_and_admin_keys_get_no_stream(service: Service):
    for who in ("a-feed", "admin"):
        with service.client(who) as client:
            assert client.get("/v1/stream").status_code == 403


def test_a_last_event_id_of_another_form_is_told_so_in_the_reload(service: Service):
    """A made-up or another party's id and one not of the stream's form are both answered ``reload``;
    the reason tells the client which mistake is its own (a malformed header), nothing of others'."""
    reasons = {}
    with service.client("a-liaison") as client:
        for last_event_id in ("abc", "-5", "ffffffffffffffff"):
            answer = client.get("/v1/stream", params={"once": "true"}, headers={"Last-Event-ID": last_event_id})
            assert answer.status_code == 200
            blocks = [b for b in answer.text.split("\n\n") if b.startswith("event: reload")]
            assert len(blocks) == 1, answer.text
            reasons[last_event_id] = json.loads(blocks[0].split("data: ", 1)[1])["reason"]
    assert "not an id of this stream" in reasons["abc"] and reasons["abc"] == reasons["-5"]
    assert reasons["ffffffffffffffff"] == "missed events are no longer kept"
