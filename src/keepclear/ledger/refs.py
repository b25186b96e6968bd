"""The ids an entry's payload names at its top level (``alert_id``, ``incident_id``, ``message_id``),
indexed beside the entries (``store.ledger.ledger_refs``: id, time, seq), so that a reader finds the
entries of one alert, incident or message in a window without reading everyone's: an incident's
evidence (``Ledger.entries(refs=...)``) costs its own entries, not every party's traffic.

An index, not the record: nothing hashed or exported changes. A value that is not text, is longer
than ``MAX_REF_CHARS`` or holds a NUL (PostgreSQL text cannot) is not indexed, and a reader asking
for such a value must read the window whole (``indexable``).
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_REF_CHARS", "REF_KEYS", "indexable", "payload_refs", "text_refs"]

#: The top-level payload fields whose values are indexed.
REF_KEYS = ("alert_id", "incident_id", "message_id")
#: The longest value indexed (ids are 64 characters at most; ``message_id`` ``THREAD#SEQ`` a bit more).
MAX_REF_CHARS = 128


def indexable(value: object) -> bool:
    """True when ``value`` is a payload value the index holds (text, short, without NUL)."""
    return isinstance(value, str) and len(value) <= MAX_REF_CHARS and "\x00" not in value


def payload_refs(payload: Any) -> tuple[str, ...]:
    """The indexable values of ``REF_KEYS`` in ``payload`` (an object; else none), each once, sorted.

    >>> payload_refs({"alert_id": "al1", "message_id": "al1", "incident_id": 7, "data": {"alert_id": "x"}})
    ('al1',)
    """
    if not isinstance(payload, dict):
        return ()
    # Written out for the three keys: the record's hot path calls this for every alert change.
    found = [
        value
        for value in (payload.get("alert_id"), payload.get("incident_id"), payload.get("message_id"))
        if isinstance(value, str) and len(value) <= MAX_REF_CHARS and "\x00" not in value
    ]
    return tuple(sorted(set(found))) if len(found) > 1 else tuple(found)


def text_refs(text: str) -> tuple[str, ...]:
    """``payload_refs`` of the payload text ``text``; parsed only when it may name one (a key's name
    in it, or an escape that could spell one), so most texts cost a few substring tests."""
    if not ("alert_id" in text or "incident_id" in text or "message_id" in text or "\\u" in text):
        return ()
    try:
        return payload_refs(json.loads(text))
    except (ValueError, RecursionError):
        return ()  # not JSON: the ledger refuses or keeps it as it is; it names nothing
