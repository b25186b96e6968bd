"""Stored hotline: threads, members, messages in per-thread order, receipts, ack requests, availability.

One module a concept (``tables``, ``threads``, ``messages``, ``receipts``, ``acks``,
``availability``, ``unread``); callers import this package (``from keepclear.store import hotline as store``)
and reach every function through it.
"""

from keepclear.store.hotline.acks import (
    ack_status,
    due_ack_requests,
    insert_ack_requests,
    outstanding_ack_requests,
    record_escalation_step,
    settle_ack_request,
)
from keepclear.store.hotline.availability import get_availability, set_availability
from keepclear.store.hotline.messages import (
    count_messages,
    find_by_keys,
    get_message,
    insert_messages,
    messages_after,
)
from keepclear.store.hotline.receipts import advance_receipts, get_cursor, receipts_for
from keepclear.store.hotline.tables import (
    hotline_ack_requests,
    hotline_availability,
    hotline_cursors,
    hotline_members,
    hotline_messages,
    hotline_receipts,
    hotline_threads,
)
from keepclear.store.hotline.threads import (
    get_thread,
    insert_pair_thread,
    insert_thread,
    last_seqs,
    pair_key,
    posted_horizon,
    reserve_seqs,
    set_last_seqs,
    thread_id_for_pair,
    threads_of,
    threads_opened,
    threads_page,
    threads_posted_from,
    threads_posted_since,
    threads_with_last_seq,
)
from keepclear.store.hotline.unread import unread_counts, unread_total

__all__ = [
    "ack_status",
    "advance_receipts",
    "count_messages",
    "due_ack_requests",
    "find_by_keys",
    "get_availability",
    "get_cursor",
    "get_message",
    "get_thread",
    "hotline_ack_requests",
    "hotline_availability",
    "hotline_cursors",
    "hotline_members",
    "hotline_messages",
    "hotline_receipts",
    "hotline_threads",
    "insert_ack_requests",
    "insert_messages",
    "insert_pair_thread",
    "insert_thread",
    "last_seqs",
    "messages_after",
    "outstanding_ack_requests",
    "pair_key",
    "posted_horizon",
    "receipts_for",
    "record_escalation_step",
    "reserve_seqs",
    "set_availability",
    "set_last_seqs",
    "settle_ack_request",
    "thread_id_for_pair",
    "threads_of",
    "threads_opened",
    "threads_page",
    "threads_posted_from",
    "threads_posted_since",
    "threads_with_last_seq",
    "unread_counts",
    "unread_total",
]
