"""Unread counts per thread (``HotlineService.thread_heads``), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from hotline_support import pair

from keepclear.domain.hotline import Draft, MessageKind
from keepclear.services.hotline.service import HotlineService


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
