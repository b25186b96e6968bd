"""JSON at the hotline's edge: a request body or WebSocket frame → ``Draft``, with problems named by field.

The HTTP bodies also have pydantic models: the OpenAPI document shows what each takes, and a body
that fits its schema is read the same way a socket frame is (``draft_from_json``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from keepclear.api.models import ID_PATTERN, ReportNumber, WholeNumber
from keepclear.domain.hotline import (
    IDEMPOTENCY_KEY_PATTERN,
    MAX_BODY_BYTES,
    Availability,
    Draft,
    MessageKind,
    PhraseUse,
)
from keepclear.domain.limits import INT64_MAX
from keepclear.errors import ValidationError


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ThreadIn(_Body):
    """A new thread: the other parties in it (the creator is added) and a title."""

    parties: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(min_length=1, max_length=64)
    title: str = Field(min_length=1, max_length=200, pattern=r"\S")


class PhraseIn(_Body):
    code: str = Field(min_length=1, max_length=64)
    params: dict[str, Annotated[str, Field(max_length=500)]] = Field(default_factory=dict)


class MessageIn(_Body):
    """A message to post (docs/hotline.md): text in ``body``, a standard ``phrase``, or both."""

    thread_id: str | None = Field(None, description="Optional; must equal the thread in the URL.")
    kind: MessageKind = MessageKind.TEXT
    idempotency_key: str | None = Field(
        None,
        pattern=IDEMPOTENCY_KEY_PATTERN,
        description="The sender's key for this message; an alias of the Idempotency-Key header (one of them is required).",
    )
    body: str = Field("", max_length=MAX_BODY_BYTES, description="At most 16 KiB as UTF-8.")
    phrase: PhraseIn | None = None
    # strict: ``true`` is neither a sequence number nor seconds, as the socket refuses it (draft_problems)
    reply_to_seq: WholeNumber | None = Field(None, ge=1, le=INT64_MAX)
    ack_within_s: ReportNumber | None = Field(None, gt=0, le=7 * 86400)
    data: dict[str, Any] = Field(default_factory=dict, description="At most 16 KiB as compact JSON.")


class ReadIn(_Body):
    through_seq: WholeNumber = Field(ge=0, le=INT64_MAX)


class AvailabilityIn(_Body):
    availability: Availability
    reason: str = Field("", max_length=2000, description="At most 2000 bytes as UTF-8.")


_DRAFT_FIELDS = {"thread_id", "kind", "idempotency_key", "body", "phrase", "reply_to_seq", "ack_within_s", "data"}


def draft_from_json(obj: Any, thread_id: str | None = None, where: str = "") -> Draft:
    """Parse a message to post; ``thread_id`` from the URL wins over (and must match) the body's.

    Raises ``ValidationError`` naming each wrong field (prefixed with ``where``).
    """
    if not isinstance(obj, dict):
        raise ValidationError([f"{where}body: must be a JSON object"])
    problems = [f"{where}{name}: unknown field" for name in sorted(set(obj) - _DRAFT_FIELDS - {"type", "ref"})]
    body_thread = obj.get("thread_id")
    if thread_id is not None and body_thread is not None and body_thread != thread_id:
        problems.append(f"{where}thread_id: {body_thread!r} differs from the thread in the URL {thread_id!r}")
    thread = thread_id if thread_id is not None else body_thread
    if not isinstance(thread, str) or not thread:
        problems.append(f"{where}thread_id: required")
    try:
        kind = MessageKind(obj.get("kind", "text"))
    except ValueError:
        problems.append(f"{where}kind: {obj.get('kind')!r} is not one of {', '.join(k.value for k in MessageKind)}")
        kind = MessageKind.TEXT
    body = obj.get("body", "")
    if not isinstance(body, str):
        problems.append(f"{where}body: must be text")
        body = ""
    phrase = None
    raw_phrase = obj.get("phrase")
    if raw_phrase is not None:
        if not isinstance(raw_phrase, dict) or not isinstance(raw_phrase.get("code"), str):
            problems.append(f'{where}phrase: must be {{"code": "...", "params": {{...}}}}')
        else:
            params = raw_phrase.get("params", {})
            if not isinstance(params, dict):
                problems.append(f"{where}phrase.params: must be an object of text values")
                params = {}
            phrase = PhraseUse(raw_phrase["code"], dict(params))
    data = obj.get("data", {})
    if not isinstance(data, dict):
        problems.append(f"{where}data: must be a JSON object")
        data = {}
    if problems:
        raise ValidationError(problems)
    return Draft(
        thread_id=str(thread),
        kind=kind,
        idempotency_key=obj.get("idempotency_key"),  # type: ignore[arg-type]  # draft_problems names what is wrong
        body=body,
        phrase=phrase,
        reply_to_seq=obj.get("reply_to_seq"),
        ack_within_s=obj.get("ack_within_s"),
        data=data,
    )
