"""A party that others made a member of very many threads: what it reads of them never fails, and
its availability changes stay as cheap as its standing threads, on SQLite and PostgreSQL alike.

Every other party may open ``max_hotline_threads_per_party`` (10,000) threads with it, so seven of
them take it past the 65,535 bound parameters PostgreSQL allows a statement: its thread list,
socket resume and incident reports named each of those threads in one ``IN (...)`` and failed.
"""

from __future__ import annotations

import pytest
from hotline_support import Recorder

from keepclear.domain.hotline import Availability, Draft, MessageKind
from keepclear.services.hotline.service import HotlineService
from keepclear.services.hotline.store_watch import StoreWatch
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import hotline as store

#: Past PostgreSQL's bound parameters per statement (65,535).
MANY_THREADS = 66_000


def _make_threads(deployment: Deployment, count: int, opener: str, member: str) -> list[str]:
    """``count`` threads of ``opener`` and ``member``, stored in bulk (as the opener's own threads)."""
    ids = [f"t-bulk-{i:06d}" for i in range(count)]
    if not ids:
        return ids
    with deployment.db.write() as conn:
        conn.execute(
            store.hotline_threads.insert(),
            [
                {"id": i, "title": "bulk", "standing": False, "pair_key": None, "created_s": 1.0, "last_seq": 0}
                | {"opened_by": opener}
                for i in ids
            ],
        )
        conn.execute(
            store.hotline_members.insert(),
            [{"thread_id": i, "party_id": p} for i in ids for p in (opener, member)],
        )
    return ids


def test_a_party_in_more_threads_than_a_statement_takes_parameters_reads_them_all(
    deployment: Deployment, hotline: HotlineService
) -> None:
    standing = {t.id for t in hotline.threads_of("coalition")}
    ids = _make_threads(deployment, MANY_THREADS, "russia", "coalition")
    last_id = ids[-1]
    hotline.post("russia", "Maj Ivanov", Draft(last_id, MessageKind.TEXT, "bulk-key-1", body="one"))
    hotline.post("russia", "Maj Ivanov", Draft(last_id, MessageKind.TEXT, "bulk-key-2", body="two"))

    threads = hotline.threads_of("coalition")
    assert {t.id for t in threads} == standing | set(ids)
    bulk = set(ids)
    assert all(set(t.parties) == {"coalition", "russia"} for t in threads if t.id in bulk)
    heads = {t.id: (last, unread) for t, last, unread in hotline.thread_heads("coalition")}
    assert len(heads) == len(threads) and heads[last_id] == (2, 2) and heads[ids[0]] == (0, 0)
    assert hotline.unread_total("coalition") == (1, 2) and hotline.unread_total("russia") == (0, 0)
    assert dict((t.id, last) for t, last in hotline.threads_with_last_seq("coalition"))[last_id] == 2
    resumed = {t.id: last for t, last in hotline.resume_points("coalition", {last_id: 1})}
    assert resumed[last_id] == 2 and len(resumed) == len(threads)
    assert hotline.heads("coalition")[last_id] == 2
    # A party that is a member of few threads reads as before: its standing threads.
    assert all(t.standing for t in hotline.threads_of("un")) and len(hotline.threads_of("un")) == 2


def test_an_availability_change_is_told_in_the_standing_threads_only(
    deployment: Deployment, hotline: HotlineService, recorder: Recorder
) -> None:
    """Before, a channel-status message went into every thread of the party: another party opening
    threads with it made each of its changes that many messages and record entries at once."""
    standing = {t.id for t in hotline.threads_of("russia")}
    opened = hotline.create_thread("coalition", ["russia"], "a topic of coalition's")
    _make_threads(deployment, 300, "un", "russia")

    hotline.set_availability("russia", "Col Petrov", Availability.DEGRADED, "generator")

    told = {t.id for t in hotline.threads_of("russia") if hotline.messages("russia", t.id)}
    assert told == standing and len(standing) == 2
    assert hotline.messages("coalition", opened.id) == []
    (changed,) = recorder.of("party.availability")
    assert changed.parties == frozenset({"russia", "coalition", "un"})
    posted = recorder.of("message.posted")
    assert sorted(e.payload["thread_id"] for e in posted) == sorted(standing)


@pytest.mark.parametrize("count", [0, 1, 499, 500, 501, 1_201])
def test_thread_lists_of_any_length_read_back_whole(
    deployment: Deployment, hotline: HotlineService, count: int
) -> None:
    """The lists read in slices of ``IN_LIST_SIZE`` threads lose nothing at the slice edges."""
    ids = _make_threads(deployment, count, "un", "coalition")
    with deployment.db.read() as conn:
        assert store.last_seqs(conn, ids) == dict.fromkeys(ids, 0)
        assert store.unread_counts(conn, "coalition", ids) == dict.fromkeys(ids, 0)
        page = store.threads_page(conn, "coalition", None, count + 10)
    assert {t.id for t, _ in page} >= set(ids)
    assert all(set(t.parties) == {"coalition", "un"} for t, _ in page if t.id in set(ids))


def test_the_store_watch_reads_only_the_threads_posted_to(deployment: Deployment, hotline: HotlineService) -> None:
    """Without a bus each socket read every thread of its party every 2 s (0.66 s a look at 66,000
    threads on SQLite); the process's one look reads the threads posted to since the last, indexed."""
    ids = _make_threads(deployment, 5_000, "russia", "coalition")
    woken: list[tuple[str, tuple[str, ...]]] = []
    watch = StoreWatch(deployment.db, deployment.clock, lambda t, p: woken.append((t, tuple(p))), hotline.parties_of)
    assert watch.look() == [] and watch.threads_held == 0
    other = HotlineService(deployment.db, deployment.clock, deployment.bus, hotline.phrases)  # another process
    other.post("russia", "Maj Ivanov", Draft(ids[7], MessageKind.TEXT, "watched-key-1", body="x"))
    assert watch.look() == [ids[7]] and woken == [(ids[7], ("coalition", "russia"))]
    assert watch.threads_held <= 1  # held while a look may read it again (test_hotline_store_watch)
    with deployment.db.read() as conn:
        assert [t for t, _, _ in store.threads_posted_since(conn, 0.0)] == [ids[7]]
