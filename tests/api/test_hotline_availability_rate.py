"""Availability declarations take a token of the party's hotline posts (``hotline_messages_per_party_per_s``,
bursts of ``hotline_message_burst``, the bucket of its posts): a change posts a channel-status message
into the standing thread of every other party and tells them ``party.availability``, so a party that
toggles its availability in a loop is refused once its bucket is empty, nothing of the refused
declaration stored (not its availability, nor a message in the other party's thread, nor an event
on its stream, nor a record entry). The other parties go on. A repeat of the stored declaration
(same availability and reason) stores nothing and gives its token back."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
import test_hotline_post_rate as post_rate
from apisupport import Service, another_liaison_key
from nksupport import stream_once
from test_hotline_post_rate import BURST, Monotonic, _until
from test_input_hardening import assert_problem

from keepclear.store.ledger import ledger_entries

# The post rate's server and clock: declarations take the tokens of the same bucket as posts.
clock = post_rate.clock
rated = post_rate.rated


def _declare(client: httpx.Client, availability: str, reason: str = "") -> httpx.Response:
    return client.put("/v1/hotline/availability", json={"availability": availability, "reason": reason})


def _statuses(client: httpx.Client, thread_id: str, sender: str) -> list[str]:
    """The bodies of the channel-status messages ``sender`` has in ``thread_id``."""
    messages = client.get(f"/v1/hotline/threads/{thread_id}/messages").json()
    return [m["text"] for m in messages if m["kind"] == "channel_status" and m["sender_party"] == sender]


def _recorded(service: Service, party_id: str) -> int:
    """The ``party.availability`` entries of ``party_id`` in the signed record."""
    with service.deployment.db.read() as conn:
        query = sa.select(sa.func.count()).where(
            ledger_entries.c.kind == "party.availability", ledger_entries.c.party_id == party_id
        )
        return int(conn.execute(query).scalar_one())


def test_a_party_toggling_its_availability_past_its_burst_is_refused_429_nothing_stored_and_the_others_go_on(
    rated: Service, clock: Monotonic
) -> None:
    thread_id = rated.runtime.hotline.ensure_pair_thread("a", "b").id
    with (
        rated.client("a-liaison") as a,
        rated.client("b-liaison") as b,
        another_liaison_key(rated, "a") as a_again,
    ):
        toggles = ["degraded", "available", "suspended"]
        for k, availability in enumerate(toggles):
            answer = _declare(a, availability, f"toggle {k}")
            assert answer.status_code == 200 and answer.json()["availability"] == availability, answer.text
        refused = _declare(a, "available", "toggle refused")
        body = assert_problem(refused, 429, "hotline_messages_per_party_per_s", "hotline_message_burst", "2 s")
        assert refused.headers["Retry-After"] == "2", refused.headers
        assert "nothing was stored" in body["detail"]
        # All of a party's keys share its bucket, and its posts share it with its declarations.
        assert_problem(_declare(a_again, "degraded", "toggle refused"), 429, "hotline_message_burst")
        post = a.post(f"/v1/hotline/threads/{thread_id}/messages", json={"idempotency_key": "a-post-1", "body": "x"})
        assert_problem(post, 429, "hotline_messages_per_party_per_s")
        # The other party is not held back.
        assert _declare(b, "degraded", "b meanwhile").status_code == 200

        # Nothing of a refused declaration is stored: a is still suspended, b's thread holds the three
        # changes of a and no more, and so do b's stream and the record.
        assert a.get("/v1/hotline/availability/a").json()["availability"] == "suspended"
        statuses = _statuses(b, thread_id, "a")
        assert len(statuses) == len(toggles) and all("toggle refused" not in s for s in statuses), statuses
        assert _until(lambda: _recorded(rated, "a") == len(toggles) and _recorded(rated, "b") == 1)
        streamed = [e for e in stream_once(rated, "b-liaison") if e["kind"] == "party.availability"]
        from_a = [e["payload"]["reason"] for e in streamed if e["payload"]["party_id"] == "a"]
        assert from_a == [f"toggle {k}" for k in range(len(toggles))], streamed

        # Once refilled the party declares again.
        clock.now_s += 2.0
        assert _declare(a, "available", "back").status_code == 200
        assert len(_statuses(b, thread_id, "a")) == len(toggles) + 1
    assert _until(lambda: _recorded(rated, "a") == len(toggles) + 1)


def test_a_repeat_of_the_stored_declaration_stores_nothing_and_gives_its_token_back(
    rated: Service, clock: Monotonic
) -> None:
    thread_id = rated.runtime.hotline.ensure_pair_thread("a", "b").id
    with rated.client("a-liaison") as a, rated.client("b-liaison") as b:
        first = _declare(a, "suspended", "maintenance")
        assert first.status_code == 200
        # Repeating it (a client that re-asserts what it declared) costs nothing, however often.
        for _ in range(2 * BURST):
            again = _declare(a, "suspended", "maintenance")
            assert again.status_code == 200 and again.json() == first.json(), again.text
        assert len(_statuses(b, thread_id, "a")) == 1
        assert _until(lambda: _recorded(rated, "a") == 1)
        # A new reason is a new declaration (stored and recorded for the party, nothing posted): it counts.
        assert _declare(a, "suspended", "maintenance, longer").status_code == 200
        assert _declare(a, "available").status_code == 200
        assert_problem(_declare(a, "degraded"), 429, "hotline_messages_per_party_per_s")
        assert len(_statuses(b, thread_id, "a")) == 2
        assert _until(lambda: _recorded(rated, "a") == 3)
        # While the bucket is empty a repeat is refused too (judged before the store is read)...
        assert_problem(_declare(a, "available"), 429, "hotline_messages_per_party_per_s")
        # ...and once a token is back, a repeat gives it back: the change after it is still accepted.
        clock.now_s += 2.0
        assert _declare(a, "available").status_code == 200
        assert _declare(a, "degraded", "generator").status_code == 200
        assert_problem(_declare(a, "available"), 429, "hotline_messages_per_party_per_s")
        assert len(_statuses(b, thread_id, "a")) == 3
