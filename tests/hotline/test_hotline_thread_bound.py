"""The threads one party may open are bounded (``max_hotline_threads_per_party``), counted in the
transaction that opens one more, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from keepclear.domain.hotline import Thread
from keepclear.errors import ConflictError
from keepclear.services.hotline.service import HotlineConfig, HotlineService
from keepclear.services.runtime.deployment import Deployment
from keepclear.store import Database
from keepclear.store import hotline as store
from racing import Held, race_at_bound


def _bounded(db: Database, deployment: Deployment, most: int) -> HotlineService:
    return HotlineService(db, deployment.clock, deployment.bus, config=HotlineConfig(max_threads_per_party=most))


def _opened(deployment: Deployment, party_id: str) -> int:
    with deployment.db.write() as conn:
        return store.threads_opened(conn, party_id)


def test_a_party_opens_at_most_its_bound_of_threads_and_the_bound_is_its_own(
    deployment: Deployment, hotline: HotlineService
) -> None:
    """Any party could open threads without end: their rows, and every member's thread list, resume
    and availability change (a message in each thread), grew with them. Past the bound one more is
    refused with 409 naming the setting; standing threads and threads others open do not count."""
    bounded = _bounded(deployment.db, deployment, 3)
    standing = len(bounded.threads_of("coalition"))
    for k in range(3):
        bounded.create_thread("coalition", ["russia"], f"topic {k}")
    with pytest.raises(ConflictError, match=r"max_hotline_threads_per_party: 3") as refused:
        bounded.create_thread("coalition", ["russia", "un"], "one too many")
    assert "has opened 3 hotline threads" in str(refused.value)
    assert len(bounded.threads_of("coalition")) == standing + 3  # nothing of the refused one stored
    assert bounded.threads_refused_limit_total == 1
    # Another party's threads with coalition count towards that party only.
    made = bounded.create_thread("russia", ["coalition"], "russia asks")
    assert "coalition" in made.parties and _opened(deployment, "coalition") == 3
    assert _opened(deployment, "russia") == 1
    # Standing threads are keepclear's.
    assert bounded.ensure_pair_thread("coalition", "un").standing


def test_a_refused_thread_stores_nothing(deployment: Deployment, hotline: HotlineService) -> None:
    bounded = _bounded(deployment.db, deployment, 1)
    bounded.create_thread("un", ["russia"], "only one")
    with pytest.raises(ConflictError):
        bounded.create_thread("un", ["coalition"], "refused")
    assert all(t.title != "refused" for t in bounded.threads_of("coalition"))
    assert _opened(deployment, "un") == 1


def test_two_processes_opening_a_partys_last_thread_at_once_cannot_both_pass(
    deployment: Deployment, hotline: HotlineService, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two API processes (two services, each with its own connections to the store) open a thread for
    one party at the same moment, one short of its bound: the second counts only once the first has
    committed (the party's row is locked with the count), so it is refused rather than passing too."""
    first = _bounded(deployment.db, deployment, 2)
    other_db = Database(deployment.db.url.render_as_string(hide_password=False))
    second = _bounded(other_db, deployment, 2)
    first.create_thread("coalition", ["russia"], "the first")
    held = Held()
    insert_thread = store.insert_thread

    def held_open(conn: Any, thread: Thread, key: str | None, opened_by: str | None = None) -> None:
        insert_thread(conn, thread, key, opened_by)
        if thread.title == "held open":
            held.reached()

    monkeypatch.setattr(store, "insert_thread", held_open)
    try:
        answers = race_at_bound(
            lambda: first.create_thread("coalition", ["un"], "held open"),
            lambda: second.create_thread("coalition", ["un"], "at the same moment"),
            held,
        )
    finally:
        other_db.dispose()
    assert isinstance(answers[0], Thread)
    assert isinstance(answers[1], ConflictError), answers
    assert _opened(deployment, "coalition") == 2
