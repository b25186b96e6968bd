"""Other services' events as notices in the standing threads: alerts, activities and incidents; and
the standing threads of parties added meanwhile.

A notice is posted on the bus (``Notices.on_events``), or by the writer of the event itself within
its own transaction (``Notices.post_within``: one commit and one signing for both), which the bus
then skips.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from sqlalchemy.engine import Connection

from keepclear.domain.event_kinds import EventKind
from keepclear.domain.event_payloads import PartyAdded
from keepclear.domain.events import Event
from keepclear.domain.hotline import Draft
from keepclear.errors import KeepclearError
from keepclear.services.hotline.config import HotlineConfig
from keepclear.services.hotline.messages import STORM_KINDS, EventPost, alert_storms, event_post, storm_post
from keepclear.services.hotline.posting import Posting
from keepclear.services.hotline.threads import Threads
from keepclear.store import Database


class PostedWithin:
    """Ids of the events whose notices a writer posted in its own transaction (``post_within``),
    which the bus subscriber then skips before making their notices again: bounded (``max_keys``,
    oldest dropped) and safe across threads. An id it no longer holds costs only a lookup: the
    notice's idempotency key answers the stored message."""

    def __init__(self, max_keys: int = 4096) -> None:
        self._keys: dict[str, None] = {}
        self._max_keys = max_keys
        self._lock = threading.Lock()

    def add(self, keys: Sequence[str]) -> None:
        with self._lock:
            for key in keys:
                self._keys[key] = None
            while len(self._keys) > self._max_keys:
                del self._keys[next(iter(self._keys))]

    def take(self, key: str) -> bool:
        """Was the notice of event ``key`` posted within its write? (Forgotten once taken: the bus
        delivers an event once.)"""
        if not self._keys:
            return False
        with self._lock:
            return self._keys.pop(key, 0) is None


def pair_drafts(post: EventPost, thread_of: Callable[[str, str], str], refusals: list[KeepclearError]) -> list[Draft]:
    """The drafts of ``post``: one in the standing thread of each of its pairs (``thread_of``); a
    pair whose thread ``thread_of`` refuses goes to ``refusals`` instead."""
    drafts = []
    for a, b in post.pairs:
        try:
            thread_id = thread_of(a, b)
        except KeepclearError as exc:
            refusals.append(exc)
            continue
        drafts.append(
            Draft(
                thread_id=thread_id,
                kind=post.kind,
                idempotency_key=f"{post.key_prefix}.{thread_id}",
                body=post.body,
                data=post.data,
            )
        )
    return drafts


class Notices:
    """Posts the notices of other services' events, storms summed up (``alert_summary_over``)."""

    def __init__(self, db: Database, config: HotlineConfig, threads: Threads, posting: Posting) -> None:
        self._db = db
        self._config = config
        self._threads = threads
        self._posting = posting
        self._posted_within = PostedWithin()

    def on_events(self, events: Sequence[Event]) -> None:
        """Bus subscriber for batches: standing threads for new parties; alerts, activities, incidents
        into threads, with one transaction for all the posts."""
        drafts: list[Draft] = []
        refusals: list[KeepclearError] = []
        storms = alert_storms(events, self._config.alert_summary_over)
        posts: list[EventPost] = [storm_post(pair, changes) for pair, changes in storms.items()]
        for event in events:
            if event.kind == EventKind.PARTY_ADDED:
                added = PartyAdded.from_payload(event.payload)
                with self._db.write() as conn:
                    for other in added.others:
                        self._threads.ensure_pair(conn, added.party_id, other)
                continue
            if storms and event.kind in STORM_KINDS and tuple(sorted(event.parties)) in storms:
                continue  # in its pair's storm summary
            if self._posted_within.take(event.id):
                continue  # its notice was stored in its writer's transaction
            post = event_post(event)
            if post is not None:
                posts.append(post)
        for post in posts:  # a refused pair does not stop the others; the bus keeps the error
            drafts += pair_drafts(post, self._threads.pair_thread_id, refusals)
        self._posting.post_system_many(drafts)
        if refusals:
            raise refusals[0]

    def post_within(self, conn: Connection, events: Sequence[Event]) -> tuple[list[Event], Callable[[], None]] | None:
        """Inside a writer's transaction: the hotline notices of ``events`` (its own few: a notification,
        an answer) stored with the write, so a notification and its notice are one commit and one
        signing. Returns their ``message.posted`` events, which the writer stages for the record with
        its own and publishes with them after the commit (one delivery), and their live delivery to
        the sockets, for after the commit; None when nothing was posted. The bus delivers ``events``
        to ``on_events`` later: it skips them.

        An event whose notice cannot be made here (a pair thread not made yet, a draft the hotline
        refuses) is left to ``on_events``, which posts it or reports why not, as for any other event:
        the write stands.
        """
        drafts: list[Draft] = []
        keys: list[str] = []
        for event in events:
            post = event_post(event)
            if post is None:
                continue
            refused: list[KeepclearError] = []
            made = pair_drafts(post, lambda a, b: self._threads.stored_pair_thread_id(conn, a, b), refused)
            try:
                for draft in made:
                    self._posting.check(draft, system=True)
            except KeepclearError as exc:
                refused.append(exc)
            if not refused:
                drafts += made
                keys.append(event.id)
        if not drafts:
            return None
        _, fresh = self._posting.store_system(conn, drafts, staged=False)
        self._posted_within.add(keys)
        return self._posting.posted_events(fresh), lambda: self._posting.deliver_live(fresh)
