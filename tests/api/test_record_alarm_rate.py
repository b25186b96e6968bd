"""Record inconsistency alarms (``POST /v1/record/inconsistency``) are bounded: the same alarm (the same
party and the same two heads) raised again is answered with the one raised and appends nothing to
the record nor posts anything on the hotline, also when sent many times at once; a new alarm, a
party's report to every party, takes a token of its incident reports (``incident_reports_per_party_per_s``,
bursts of ``incident_report_burst``), and past it is refused 429 with nothing stored. The other
parties go on."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from apisupport import Service, another_liaison_key, running_service
from nksupport import stream_once
from test_hotline_post_rate import Monotonic
from test_input_hardening import assert_problem

from keepclear.store.ledger import ledger_entries

BURST = 3
PER_S = 0.25  # a token every 4 s
KIND = "alert.record_inconsistent"


@pytest.fixture
def clock() -> Monotonic:
    return Monotonic()


@pytest.fixture
def rated(tmp_path: Path, database_url: str, clock: Monotonic) -> Iterator[Service]:
    """On SQLite and on PostgreSQL: parties may report ``BURST`` at once, then one every 4 s."""
    overrides = {"incident_report_burst": BURST, "incident_reports_per_party_per_s": PER_S}
    with running_service(tmp_path / "data", database_url, clock, **overrides) as service:
        yield service


def _heads(service: Service, n: int) -> list[str]:
    """``n`` signed heads of the log, each after the one before."""
    ledger, heads = service.runtime.ledger, []
    for k in range(n):
        ledger.append("message.posted", "a", {"text": f"head {k}"})
        note = ledger.latest_head().note
        assert note is not None
        heads.append(note)
    return heads


def _alarm(client: httpx.Client, seen_before: str, served: str, problem: str = "does not extend") -> httpx.Response:
    return client.post(
        "/v1/record/inconsistency", json={"seen_before": seen_before, "served": served, "problem": problem}
    )


def _recorded(service: Service) -> list[tuple[str, str]]:
    """(party, alert_id) of every alarm the record holds."""
    with service.deployment.db.read() as conn:
        rows = conn.execute(
            sa.select(ledger_entries.c.party_id, ledger_entries.c.payload).where(ledger_entries.c.kind == KIND)
        )
        return [(party, json.loads(payload)["alert_id"]) for party, payload in rows]


def _alerted(client: httpx.Client, thread_id: str) -> list[str]:
    """The refs of the record alarms in ``thread_id``."""
    messages = client.get(f"/v1/hotline/threads/{thread_id}/messages").json()
    return [m["data"]["ref"] for m in messages if m["kind"] == "alert" and m["data"].get("event") == KIND]


def test_the_same_alarm_raised_again_appends_and_posts_nothing(rated: Service) -> None:
    old, new = _heads(rated, 2)
    thread_id = rated.runtime.hotline.ensure_pair_thread("a", "b").id
    with rated.client("a-liaison") as a, rated.client("b-liaison") as b, another_liaison_key(rated, "a") as a_again:
        first = _alarm(a, old, new)
        assert first.status_code == 201 and first.json()["created"] is True, first.text
        alert_id = first.json()["alert_id"]
        # Again, with another problem worded, from another key of the party, many times: the same alarm.
        for client, problem in [(a, "does not extend"), (a_again, "worded otherwise")] * BURST:
            again = _alarm(client, old, new, problem)
            assert again.status_code == 201, again.text
            assert again.json() == {"status": "raised", "created": False, "alert_id": alert_id}
        assert _recorded(rated) == [("a", alert_id)]
        assert _alerted(b, thread_id) == [alert_id]
        # The repeats took no token: the party still raises its whole burst of new alarms.
        others = _heads(rated, BURST - 1)
        assert [_alarm(a, old, served).json()["created"] for served in others] == [True] * (BURST - 1)
        assert len(_recorded(rated)) == BURST and len(_alerted(b, thread_id)) == BURST


def test_the_same_alarm_sent_many_times_at_once_is_raised_once(tmp_path: Path, database_url: str) -> None:
    with running_service(tmp_path / "data", database_url) as service:
        old, new = _heads(service, 2)
        thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
        with service.client("a-liaison") as a, service.client("b-liaison") as b:
            with ThreadPoolExecutor(8) as pool:
                answers = list(pool.map(lambda _: _alarm(a, old, new), range(16)))
            assert [r.status_code for r in answers] == [201] * 16, [r.text for r in answers]
            assert sum(r.json()["created"] for r in answers) == 1
            assert len(_recorded(service)) == 1 and len(_alerted(b, thread_id)) == 1


def test_new_alarms_past_the_burst_are_refused_429_nothing_stored_and_the_others_go_on(
    rated: Service, clock: Monotonic
) -> None:
    heads = _heads(rated, BURST + 3)
    old, served = heads[0], heads[1:]
    thread_id = rated.runtime.hotline.ensure_pair_thread("a", "b").id
    with rated.client("a-liaison") as a, rated.client("b-liaison") as b, another_liaison_key(rated, "a") as a_again:
        raised = [_alarm(a, old, head) for head in served[:BURST]]
        assert [r.status_code for r in raised] == [201] * BURST, [r.text for r in raised]
        refused = _alarm(a, old, served[BURST])
        body = assert_problem(refused, 429, "incident_reports_per_party_per_s", "incident_report_burst", "4 s")
        assert refused.headers["Retry-After"] == "4", refused.headers
        assert "nothing was stored" in body["detail"]
        assert_problem(_alarm(a_again, old, served[BURST + 1]), 429, "incident_report_burst")
        # A repeat while the bucket is empty is refused too (judged before the store is read).
        assert_problem(_alarm(a, old, served[0]), 429, "incident_report_burst")
        # The other party is not held back.
        b_alarm = _alarm(b, old, served[BURST])
        assert b_alarm.status_code == 201 and b_alarm.json()["created"] is True, b_alarm.text

        # Nothing of a refused alarm is stored: not in the record, nor b's thread, nor b's stream.
        accepted = [r.json()["alert_id"] for r in raised]
        assert sorted(_recorded(rated)) == sorted([*(("a", i) for i in accepted), ("b", b_alarm.json()["alert_id"])])
        assert _alerted(b, thread_id) == [*accepted, b_alarm.json()["alert_id"]]
        streamed = [
            e["payload"]["data"]["ref"]
            for e in stream_once(rated, "b-liaison")
            if e["kind"] == "message.posted" and e["payload"].get("data", {}).get("event") == KIND
        ]
        assert streamed == [*accepted, b_alarm.json()["alert_id"]], streamed

        # Once refilled the party raises the refused alarm.
        clock.now_s += 4.0
        again = _alarm(a, old, served[BURST])
        assert again.status_code == 201 and again.json()["created"] is True, again.text
        assert len(_recorded(rated)) == BURST + 2
