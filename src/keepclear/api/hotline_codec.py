"""JSON at the hotline's edge: a request body or WebSocket frame → ``Draft``, with problems named by field."""

from __future__ import annotations

from typing import Any

from keepclear.domain.hotline import Draft, MessageKind, PhraseUse
from keepclear.errors import ValidationError

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
