"""Reading: a party's threads with their heads and unread counts, their messages after a cursor,
where a reconnecting client resumes, and how a message reads in the reader's language."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from keepclear.domain.hotline import Message, Thread
from keepclear.domain.phrases import PhraseCatalogue
from keepclear.errors import ValidationError
from keepclear.services.hotline.messages import message_view
from keepclear.services.hotline.threads import Threads
from keepclear.store import Database
from keepclear.store import hotline as store
from keepclear.store import registry as registry_store


class Reading:
    """What a party may read of the hotline: only the threads it is a member of."""

    def __init__(self, db: Database, phrases: PhraseCatalogue, threads: Threads) -> None:
        self._db = db
        self._phrases = phrases
        self._threads = threads

    def threads_of(self, party_id: str) -> list[Thread]:
        """Every thread ``party_id`` is a member of."""
        with self._db.read() as conn:
            return store.threads_of(conn, party_id)

    def thread_heads(self, party_id: str) -> list[tuple[Thread, int, int]]:
        """Every thread of ``party_id`` with its last sequence number and how many messages of others
        ``party_id`` has not marked read yet (the console's unread counts)."""
        with self._db.read() as conn:
            heads = store.threads_with_last_seq(conn, party_id)
            unread = store.unread_counts(conn, party_id, [t.id for t, _ in heads])
        return [(t, last, unread[t.id]) for t, last in heads]

    def threads_with_last_seq(self, party_id: str, among: Collection[str] | None = None) -> list[tuple[Thread, int]]:
        """Every thread of ``party_id`` (``among``: of these ids) with its last sequence number
        (``thread_heads`` without the unread counts, which count messages)."""
        with self._db.read() as conn:
            return store.threads_with_last_seq(conn, party_id, among=among)

    def thread_heads_page(
        self, party_id: str, after: tuple[float, str] | None, limit: int
    ) -> tuple[list[tuple[Thread, int, int]], bool]:
        """Up to ``limit`` threads of ``party_id`` by creation after ``after`` (time, id), as
        ``thread_heads`` gives them, and whether a next page may hold more; three statements."""
        with self._db.read() as conn:
            found = store.threads_page(conn, party_id, after, limit + 1)
            shown = found[:limit]
            unread = store.unread_counts(conn, party_id, [t.id for t, _ in shown])
        return [(t, last, unread[t.id]) for t, last in shown], len(found) > limit

    def thread_head(self, party_id: str, thread_id: str) -> tuple[Thread, int, int]:
        """One thread ``party_id`` is a member of as ``thread_heads`` gives it (last seq, unread):
        a client that pages the list reads here a thread not on its pages (one a message came in)."""
        with self._db.read() as conn:
            thread = self._threads.of_member(conn, thread_id, party_id)
            last = store.last_seqs(conn, [thread.id]).get(thread.id, 0)
            unread = store.unread_counts(conn, party_id, [thread.id])[thread.id]
        return thread, last, unread

    def unread_total(self, party_id: str) -> tuple[int, int]:
        """How many threads of ``party_id`` hold messages of others it has not marked read, and how many
        such messages, in all its threads (a console's badge, whatever pages it loaded): the kept counts
        of its threads with something unread only (``store.unread_total``), never the others'."""
        with self._db.read() as conn:
            return store.unread_total(conn, party_id)

    def thread(self, party_id: str, thread_id: str) -> Thread:
        """One thread ``party_id`` is a member of."""
        with self._db.read() as conn:
            return self._threads.of_member(conn, thread_id, party_id)

    def messages(self, party_id: str, thread_id: str, after_seq: int = 0, limit: int | None = None) -> list[Message]:
        """Messages of a thread ``party_id`` is a member of, after ``after_seq``, in order."""
        with self._db.read() as conn:
            self._threads.of_member(conn, thread_id, party_id)
            return store.messages_after(conn, thread_id, after_seq, limit)

    def resume_points(self, party_id: str, cursors: dict[str, int]) -> list[tuple[Thread, int]]:
        """Where a reconnecting client of ``party_id`` resumes: every thread of the party with its last
        sequence number; what it missed is read after its cursors a page at a time (``messages``), so
        a resume holds one page, whatever others posted meanwhile.

        Threads absent from ``cursors`` start from 0 (everything). Cursors naming threads the party is
        not a member of are ignored (the answer is the same as for threads that do not exist). A cursor
        beyond a thread's last message is refused: the client would silently skip what comes next.
        """
        heads = self.threads_with_last_seq(party_id)
        beyond = [
            f"cursors.{t.id}: {cursors[t.id]} is beyond the last message ({last}) of the thread;"
            " resume from a cursor this deployment gave you"
            for t, last in heads
            if cursors.get(t.id, 0) > last
        ]
        if beyond:
            raise ValidationError(beyond)
        return heads

    def heads(self, party_id: str) -> dict[str, int]:
        """The last sequence number of every thread ``party_id`` is a member of."""
        return {t.id: last for t, last in self.threads_with_last_seq(party_id)}

    def view(self, message: Message, language: str, reader: str | None) -> dict[str, Any]:
        """``message`` as a reader of party ``reader`` (None: keepclear's own tools) in ``language`` sees it."""
        return message_view(message, self._phrases, language, reader)

    def language_of(self, party_id: str) -> str:
        """The language ``party_id`` reads phrases in."""
        with self._db.read() as conn:
            return registry_store.get_party(conn, party_id).language
