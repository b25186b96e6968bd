"""The hotline: threads between parties, typed messages, receipts and the channel's availability.

Plain values and the checks on what a sender asks to post; the store assigns sequence numbers and
server time, the service decides who may post where.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any

from keepclear.domain.json_input import canonical_size_bytes, value_problems
from keepclear.domain.limits import DEFAULT_LIMITS, InputLimits, text_problem
from keepclear.errors import Problem, ProblemCode

MAX_BODY_BYTES = 16 * 1024
"""The largest message body accepted, in UTF-8 bytes (a hotline is for words, not files)."""

IDEMPOTENCY_KEY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{7,127}$"
_IDEMPOTENCY_KEY_RE = re.compile(IDEMPOTENCY_KEY_PATTERN)


class MessageKind(enum.StrEnum):
    """What a message is; the kind decides how consoles show it and what it triggers."""

    TEXT = "text"
    QUERY = "query"
    REPLY = "reply"
    NOTIFICATION = "notification"
    ALERT = "alert"
    ACKNOWLEDGEMENT = "acknowledgement"
    INCIDENT_REPORT = "incident_report"
    CHANNEL_STATUS = "channel_status"
    ESCALATION = "escalation"


SYSTEM_KINDS = frozenset({MessageKind.CHANNEL_STATUS, MessageKind.ESCALATION})
"""Kinds only keepclear itself posts (a person cannot forge a channel status or an escalation)."""


class Availability(enum.StrEnum):
    """Whether a party's liaison cell is answering: set by the party itself."""

    AVAILABLE = "available"
    DEGRADED = "degraded"
    SUSPENDED = "suspended"


class ReceiptKind(enum.StrEnum):
    """How far a message got at one recipient party."""

    DELIVERED = "delivered"
    READ = "read"


@dataclass(frozen=True, slots=True)
class Thread:
    """A conversation among ``parties`` (two or more); ``standing`` for the one per pair of parties."""

    id: str
    title: str
    parties: tuple[str, ...]
    standing: bool
    created_s: float


@dataclass(frozen=True, slots=True)
class PhraseUse:
    """A coded standard phrase and the values of its parameters."""

    code: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Draft:
    """What a sender asks to post. ``idempotency_key`` is chosen by the sender: a retry reuses it.

    ``ack_within_s`` asks every recipient party to acknowledge within that many seconds (an
    ``acknowledgement`` message replying to this one); overdue recipients are escalated.
    """

    thread_id: str
    kind: MessageKind
    idempotency_key: str
    body: str = ""
    phrase: PhraseUse | None = None
    reply_to_seq: int | None = None
    ack_within_s: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Message:
    """A stored message: ``seq`` orders it in its thread (1, 2, 3, ... with no gap).

    ``sender_party`` is None for messages keepclear posts itself (channel status, escalation).
    """

    thread_id: str
    seq: int
    kind: MessageKind
    sender_party: str | None
    sender_person: str
    time_s: float
    idempotency_key: str
    body: str = ""
    phrase: PhraseUse | None = None
    reply_to_seq: int | None = None
    ack_deadline_s: float | None = None
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Receipt:
    """``party_id`` got (delivered) or had a person read (read) message ``seq`` of ``thread_id``."""

    thread_id: str
    seq: int
    party_id: str
    kind: ReceiptKind
    time_s: float
    person: str = ""


@dataclass(frozen=True, slots=True)
class PartyAvailability:
    """The availability a party last declared, why, by whom, since when."""

    party_id: str
    availability: Availability
    since_s: float
    person: str = ""
    reason: str = ""


def idempotency_key_problem(value: object, field_name: str = "idempotency_key") -> str | None:
    """Why ``value`` is not an idempotency key, or None: 8-128 characters of letters, digits, ``_.:-``.

    >>> idempotency_key_problem("c2f0e6a1-retry") is None
    True
    """
    if value is None:
        return f"{field_name}: required (or send the Idempotency-Key header)"
    if not isinstance(value, str) or not _IDEMPOTENCY_KEY_RE.match(value):
        return (
            f"{field_name}: {value!r} is not a valid idempotency key (8-128 characters: letters, digits,"
            " '_', '.', ':', '-', starting with a letter or digit)"
        )
    return None


def draft_problems(draft: Draft, limits: InputLimits = DEFAULT_LIMITS) -> list[str]:
    """Every reason ``draft`` cannot be posted, judged on the draft alone (not on the store).

    Text and ``data`` are judged as every input is (``domain.json_input``): no NUL or lone surrogate,
    ``data`` within the depth and at most ``limits.max_message_data_bytes`` as canonical JSON, finite
    numbers only. The same draft is refused the same way over HTTP, the socket and in process.
    """
    problems: list[str] = []
    if isinstance(draft.body, str) and (p := text_problem(draft.body, "body")):
        return [p]
    if draft.phrase is not None:
        problems += value_problems(
            {"code": draft.phrase.code, "params": draft.phrase.params}, limits, "phrase", numbers=False
        )
    if isinstance(draft.data, dict):
        data_problems = value_problems(draft.data, limits, "data")
        problems += data_problems
        if not data_problems and (size := canonical_size_bytes(draft.data)) > limits.max_message_data_bytes:
            problems.append(
                f"data: {size} bytes as compact JSON is over the limit of {limits.max_message_data_bytes} bytes"
            )
    if problems:
        return problems
    if (p := idempotency_key_problem(draft.idempotency_key)) is not None:
        problems.append(p)
    if not isinstance(draft.kind, MessageKind):
        problems.append(f"kind: {draft.kind!r} is not one of {', '.join(k.value for k in MessageKind)}")
    size_bytes = len(draft.body.encode("utf-8")) if isinstance(draft.body, str) else -1
    if size_bytes < 0:
        problems.append("body: must be text")
    elif size_bytes > MAX_BODY_BYTES:
        problems.append(f"body: {size_bytes} bytes is over the limit of {MAX_BODY_BYTES} bytes")
    if size_bytes == 0 and draft.phrase is None and draft.kind not in (MessageKind.ACKNOWLEDGEMENT,):
        problems.append("body: empty; give a body or a standard phrase")
    if draft.kind in (MessageKind.REPLY, MessageKind.ACKNOWLEDGEMENT) and draft.reply_to_seq is None:
        problems.append(
            Problem(
                "reply_to_seq",
                ProblemCode.REPLY_TO_REQUIRED,
                f"{draft.kind.value} messages must name the message they answer",
            )
        )
    if draft.reply_to_seq is not None and (
        not isinstance(draft.reply_to_seq, int) or isinstance(draft.reply_to_seq, bool) or draft.reply_to_seq < 1
    ):
        problems.append(f"reply_to_seq: {draft.reply_to_seq!r} is not a sequence number (an integer from 1)")
    if draft.ack_within_s is not None and (  # not a bool: a socket's ``true`` is no number of seconds
        isinstance(draft.ack_within_s, bool)
        or not (isinstance(draft.ack_within_s, int | float) and 0 < draft.ack_within_s <= 7 * 86400)
    ):
        problems.append(f"ack_within_s: {draft.ack_within_s!r} must be a number of seconds in (0, 604800]")
    return problems
