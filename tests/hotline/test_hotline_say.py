"""keepclear's own hotline notices carry a code and parameters (``data.say``) beside their English text,
so that each reader's client words them in its own language."""

from __future__ import annotations

from keepclear.domain.events import Event
from keepclear.services.hotline.messages import alert_storms, event_post, storm_post

PAIR = frozenset({"a", "b"})


def alert_event(kind: str, alert_id: str = "alert-1", **extra: object) -> Event:
    payload = {
        "alert_id": alert_id, "level": "warning", "previous_level": "caution", "unit_a": "ua", "party_a": "a",
        "unit_b": "ub", "party_b": "b", "cpa": {"tcpa_s": 80.0, "dcpa_m": 926.0, "vsep_cpa_m": -152.4}, **extra,
    }  # fmt: skip
    return Event(kind, 1_500_000_000.0, None, payload, PAIR)


def test_an_alert_notice_says_its_code_and_parameters_and_keeps_its_english_text():
    post = event_post(alert_event("alert.raised"))
    assert post is not None and post.body.startswith("WARNING alert alert-1 raised")
    say = post.data["say"]
    assert say["code"] == "alert.raised"
    assert say["params"] | {"tcpa_s": 80.0, "dcpa_m": 926.0, "vsep_m": 152.4} == say["params"]
    assert (say["params"]["unit_a"], say["params"]["party_b"], say["params"]["level"]) == ("ua", "b", "warning")
    resolved = event_post(alert_event("alert.resolved"))
    assert resolved is not None and "tcpa_s" not in resolved.data["say"]["params"]  # no closest approach once over


def test_an_incident_notice_names_the_incident_and_its_kind():
    event = Event(
        "incident.opened", 1_500_000_000.0, "a",
        {"incident_id": "inc-1", "kind": "reported", "time_s": 1_499_999_000.0, "unit_ids": ["ua"], "summary": "close pass"},
        PAIR,
    )  # fmt: skip
    post = event_post(event)
    assert post is not None and post.body == "close pass"
    assert post.data["say"] == {
        "code": "incident.opened",
        "params": {"ref": "inc-1", "by": "a", "incident_id": "inc-1", "kind": "reported", "time_s": 1_499_999_000.0, "unit_ids": ["ua"]},
    }  # fmt: skip


def test_an_alert_storm_summary_says_its_counts():
    events = [alert_event("alert.raised", f"alert-{i}") for i in range(5)]
    pair, changes = next(iter(alert_storms(events, over=3).items()))
    say = storm_post(pair, changes).data["say"]
    assert say["code"] == "alert.storm"
    assert say["params"]["count"] == 5 and say["params"]["raised"] == {"warning": 5}
    assert (say["params"]["party_a"], say["params"]["party_b"]) == ("a", "b")
