"""Resolved alerts are kept per party: how soon one party's resolved alerts leave its list must not
tell it how many alerts other parties had (docs/need-to-know.md, "Traffic analysis")."""

from __future__ import annotations

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.services.tactical.heard_alerts import AlertMemory, resolved_event


def raised(alert_id: str, party_a: str, party_b: str, time_s: float) -> Event:
    payload = {
        "alert_id": alert_id,
        "unit_a": f"{party_a}-1",
        "unit_b": f"{party_b}-1",
        "party_a": party_a,
        "party_b": party_b,
        "level": "caution",
        "level_number": 1,
        "raised_s": time_s,
    }
    return Event(EventKind.ALERT_RAISED, time_s, None, payload, frozenset((party_a, party_b)))


def encounter(memory: AlertMemory, alert_id: str, party_a: str, party_b: str, time_s: float) -> None:
    event = raised(alert_id, party_a, party_b, time_s)
    memory.remember(event)
    memory.remember(resolved_event(event.payload, time_s + 30.0, None))


def test_other_parties_resolved_alerts_never_push_a_partys_own_out() -> None:
    memory = AlertMemory(resolved_kept=3)
    encounter(memory, "ab-1", "a", "b", 0.0)
    for k in range(50):  # c and d resolve many more than the window between them
        encounter(memory, f"cd-{k}", "c", "d", 100.0 + k)
    assert [p["alert_id"] for p in memory.resolved_for("a")] == ["ab-1"]
    assert [p["alert_id"] for p in memory.resolved_for("b")] == ["ab-1"]
    assert [p["alert_id"] for p in memory.resolved_for("c")] == ["cd-47", "cd-48", "cd-49"]
    assert memory.resolved_for("e") == []
    assert memory.resolved_for("a")[0]["status"] == "resolved" and memory.latest == {}


def test_a_partys_own_resolved_alerts_leave_oldest_first_past_the_window() -> None:
    memory = AlertMemory(resolved_kept=2)
    for k, other in enumerate(["b", "c", "b"]):
        encounter(memory, f"a{other}-{k}", "a", other, float(k))
    assert [p["alert_id"] for p in memory.resolved_for("a")] == ["ac-1", "ab-2"]
    assert [p["alert_id"] for p in memory.resolved_for("b")] == ["ab-0", "ab-2"]
    assert [p["alert_id"] for p in memory.resolved_for("c")] == ["ac-1"]
