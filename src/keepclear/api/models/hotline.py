"""Answers of /v1/hotline (the bodies it takes are in ``api.hotline_codec``)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from keepclear.domain.hotline import Availability, MessageKind, ReceiptKind


class ThreadOut(BaseModel):
    """A thread: its parties (the creator included), its title; ``standing`` for the one per pair."""

    id: str
    title: str
    parties: list[str]
    standing: bool
    created: str


class ThreadHead(ThreadOut):
    """A thread with the sequence number of its last message and the caller's unread count."""

    last_seq: int
    unread: int


class UnreadOut(BaseModel):
    """What the caller's party has not read in all its threads, loaded by a client or not."""

    threads: int = Field(description="Threads holding messages of others the party has not marked read.")
    messages: int = Field(description="Those messages: the sum of the threads' ``unread``.")


class PhraseUseOut(BaseModel):
    code: str
    params: dict[str, str]


class MessageOut(BaseModel):
    """A message as a reader of ``language`` sees it: ``text`` is the phrase rendered in that language
    and the sender's body."""

    thread_id: str
    seq: int
    kind: MessageKind
    sender_party: str | None = Field(description="None for messages keepclear posts itself.")
    sender_person: str
    time: str
    time_s: float
    idempotency_key: str
    body: str
    phrase: PhraseUseOut | None
    text: str
    language: str
    reply_to_seq: int | None
    ack_deadline: str | None
    data: dict[str, Any] = Field(description="The sender's own structured data, as it was posted.")


class PostedOut(BaseModel):
    """A posted message; ``created`` is false for a retry of one already stored (same key, same content)."""

    created: bool
    message: MessageOut


class ReadOut(BaseModel):
    """Sequence numbers newly marked read by this call."""

    read: list[int]


class ReceiptOut(BaseModel):
    party_id: str
    kind: ReceiptKind
    time: str
    person: str


class AckStatusOut(BaseModel):
    """A party asked to acknowledge the message: by when, whether and with which message it did, how
    many escalation steps were taken."""

    party_id: str
    deadline_s: float
    acked_s: float | None
    acked_seq: int | None
    escalation_steps: int


class ReceiptsOut(BaseModel):
    receipts: list[ReceiptOut]
    acknowledgements: list[AckStatusOut]


class AvailabilityOut(BaseModel):
    party_id: str
    availability: Availability
    since: str


class PhraseOut(BaseModel):
    """A standard phrase, its wording in the asked language (English when it has none)."""

    code: str
    meaning: str
    expected_response: str
    parameters: list[str]
    text: str
