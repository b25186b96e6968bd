"""Unread counts per thread (``HotlineService.thread_heads``) and a party's total over all its threads
(``unread_total``), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import random

from alembic import command
from hotline_support import pair

from keepclear.domain.hotline import Availability, Draft, MessageKind, ReceiptKind
from keepclear.services.hotline.service import HotlineService
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import hotline as store
from keepclear.store.migrate import alembic_config


def heads(hotline: HotlineService, party_id: str) -> dict[str, tuple[int, int]]:
    return {t.id: (last, unread) for t, last, unread in hotline.thread_heads(party_id)}


def test_unread_counts_others_and_system_messages_after_the_read_cursor(hotline: HotlineService) -> None:
    thread_id = pair(hotline, "coalition", "russia")
    assert heads(hotline, "coalition")[thread_id] == (0, 0)
    for i in range(3):
        hotline.post("coalition", "Maj Smith", Draft(thread_id, MessageKind.TEXT, f"unread-{i:04d}", body="hi"))
    hotline.post_system(thread_id, MessageKind.ALERT, "unread-system-1", body="alert")
    assert heads(hotline, "coalition")[thread_id] == (4, 1)  # keepclear's message, not its own three
    assert heads(hotline, "russia")[thread_id] == (4, 4)
    hotline.mark_read("russia", "Maj Ivanov", thread_id, 2)
    assert heads(hotline, "russia")[thread_id] == (4, 2)
    hotline.post("russia", "Maj Ivanov", Draft(thread_id, MessageKind.TEXT, "unread-reply-1", body="da"))
    assert heads(hotline, "russia")[thread_id] == (5, 2)
    hotline.mark_read("coalition", "Maj Smith", thread_id, 5)
    assert heads(hotline, "coalition")[thread_id] == (5, 0)
    assert thread_id not in heads(hotline, "un")


def _recounted(deployment: Deployment, party_id: str) -> tuple[dict[str, int], tuple[int, int]]:
    """Each thread's unread count of ``party_id`` counted from the messages and the read cursor, as
    the counts were before they were kept, and the party's total from them."""
    with deployment.db.read() as conn:
        threads = store.threads_of(conn, party_id)
        counts = {
            t.id: sum(
                1
                for m in store.messages_after(conn, t.id, store.get_cursor(conn, t.id, party_id, ReceiptKind.READ))
                if m.sender_party != party_id
            )
            for t in threads
        }
    return counts, (sum(1 for n in counts.values() if n), sum(counts.values()))


def _kept(deployment: Deployment, party_id: str) -> tuple[dict[str, int], tuple[int, int]]:
    with deployment.db.read() as conn:
        ids = [t.id for t in store.threads_of(conn, party_id)]
        return store.unread_counts(conn, party_id, ids), store.unread_total(conn, party_id)


def test_the_kept_counts_and_totals_are_those_counted_from_the_messages(
    deployment: Deployment, hotline: HotlineService
) -> None:
    """Posts of each party and of keepclear, batches, reads of part of a thread and past one's own
    messages, channel-status messages, in threads of two and three parties: after each step every
    party's kept counts and total are what counting the messages after its read cursor gives."""
    parties = ("coalition", "russia", "un")
    threads = [pair(hotline, "coalition", "russia"), pair(hotline, "russia", "un")]
    threads.append(hotline.create_thread("coalition", ["russia", "un"], "three").id)
    members = {t.id: t.parties for t in hotline.threads_of("russia")}
    rng = random.Random(2017)
    person = {"coalition": "Maj Smith", "russia": "Maj Ivanov", "un": "Ms Un"}
    for step in range(120):
        thread_id = rng.choice(threads)
        party = rng.choice(members[thread_id])
        action = rng.random()
        if action < 0.45:
            drafts = [
                Draft(thread_id, MessageKind.TEXT, f"kept-{step:04d}-{i}", body="x") for i in range(rng.randint(1, 3))
            ]
            hotline.post_many(party, person[party], drafts)
        elif action < 0.6:
            hotline.post_system(thread_id, MessageKind.ALERT, f"system-{step:04d}", body="alert")
        elif action < 0.65:
            hotline.set_availability(party, person[party], rng.choice(list(Availability)), "drill")
        else:
            last = hotline.thread_head(party, thread_id)[1]
            hotline.mark_read(party, person[party], thread_id, rng.randint(0, last))
        for p in parties:
            assert _kept(deployment, p) == _recounted(deployment, p), (step, p)
    assert any(total != (0, 0) for _, total in (_kept(deployment, p) for p in parties))
    for p in parties:  # everything read: nothing left
        for t in hotline.threads_of(p):
            hotline.mark_read(p, person[p], t.id, hotline.thread_head(p, t.id)[1])
        assert _kept(deployment, p)[1] == (0, 0)


def test_the_upgrade_counts_what_was_stored_before(deployment: Deployment, hotline: HotlineService) -> None:
    """Messages and read cursors stored before the counts were kept are counted by migration 0026."""
    config = alembic_config(deployment.db)
    thread_id = pair(hotline, "coalition", "russia")
    three = hotline.create_thread("coalition", ["russia", "un"], "three").id
    command.downgrade(config, "0017_hotline_thread_posted")
    rows = [
        (thread_id, 1, "coalition"),
        (thread_id, 2, "coalition"),
        (thread_id, 3, "russia"),
        (thread_id, 4, None),
        (three, 1, "un"),
        (three, 2, "russia"),
    ]
    with deployment.db.write() as conn:
        conn.execute(
            store.hotline_messages.insert(),
            [
                {"thread_id": t, "seq": seq, "kind": "text", "sender_party": sender, "sender_person": "p"}
                | {"time_s": 1.0, "idempotency_key": f"old-{t}-{seq}", "body": "old", "data": "{}"}
                | {"key_scope": sender or ""}
                for t, seq, sender in rows
            ],
        )
        conn.execute(store.hotline_threads.update().where(store.hotline_threads.c.id == thread_id).values(last_seq=4))
        conn.execute(store.hotline_threads.update().where(store.hotline_threads.c.id == three).values(last_seq=2))
        conn.execute(
            store.hotline_cursors.insert(),
            [
                {"thread_id": thread_id, "party_id": "russia", "kind": "read", "through_seq": 1},
                {"thread_id": three, "party_id": "coalition", "kind": "delivered", "through_seq": 2},
            ],
        )
    command.upgrade(config, "heads")
    for p in ("coalition", "russia", "un"):
        assert _kept(deployment, p) == _recounted(deployment, p), p
    assert _kept(deployment, "russia")[1] == (2, 3)  # read through 1: 2 and keepclear's 4; un's 1 in three
    assert _kept(deployment, "coalition")[1] == (2, 4)  # russia's 3, keepclear's 4; in three un's and russia's
    hotline.mark_read("coalition", "Maj Smith", three, 2)
    assert _kept(deployment, "coalition")[1] == (1, 2)
