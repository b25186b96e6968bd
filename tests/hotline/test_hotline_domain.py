"""Checks on a draft message, judged on the draft alone."""

from __future__ import annotations

import asyncio

import pytest

from keepclear.domain.hotline import (
    Draft,
    Message,
    MessageKind,
    PhraseUse,
    Thread,
    draft_problems,
    idempotency_key_problem,
)
from keepclear.services.hotline.hub import HotlineHub, HubConfig


@pytest.mark.parametrize("key", ["abcdefgh", "c2f0e6a1-0001", "coalition:2017-11-01:7", "A" * 128])
def test_well_formed_idempotency_keys_pass(key: str) -> None:
    assert idempotency_key_problem(key) is None


@pytest.mark.parametrize("key", ["short", "", "-leading", "with space 1", "A" * 129, None, 12345678])
def test_malformed_idempotency_keys_are_named(key: object) -> None:
    assert (idempotency_key_problem(key) or "").startswith("idempotency_key: ")


def test_body_limit_is_counted_in_utf8_bytes() -> None:
    at_limit = Draft("t", MessageKind.TEXT, "key-000001", body="я" * 8192)
    over = Draft("t", MessageKind.TEXT, "key-000001", body="я" * 8192 + "x")
    assert draft_problems(at_limit) == []
    assert draft_problems(over) == ["body: 16385 bytes is over the limit of 16384 bytes"]


def test_empty_message_needs_a_phrase_and_an_acknowledgement_names_what_it_answers() -> None:
    assert draft_problems(Draft("t", MessageKind.TEXT, "key-000001")) == [
        "body: empty; give a body or a standard phrase"
    ]
    assert draft_problems(Draft("t", MessageKind.TEXT, "key-000001", phrase=PhraseUse("ACK", {"ref": "#1"}))) == []
    assert draft_problems(Draft("t", MessageKind.ACKNOWLEDGEMENT, "key-000001")) == [
        "reply_to_seq: acknowledgement messages must name the message they answer"
    ]


def test_a_client_that_falls_too_far_behind_is_told_to_resume() -> None:
    async def scenario() -> list[str]:
        hub = HotlineHub(HubConfig(queue_limit=3))
        sub = hub.connect("russia", "x", asyncio.get_running_loop())
        thread = Thread("t1", "t", ("coalition", "russia"), True, 0.0)
        for seq in range(1, 6):
            hub.on_messages(
                [(Message("t1", seq, MessageKind.TEXT, "coalition", "p", 0.0, f"key-{seq:06d}", "hi"), thread)]
            )
        await asyncio.sleep(0.01)
        kinds = []
        while not sub.queue.empty():
            kinds.append(sub.queue.get_nowait()[0])
        hub.disconnect(sub)
        assert hub.connected_parties() == set()
        return kinds

    assert asyncio.run(scenario()) == ["messages", "messages", "messages", "overflow"]
