"""Plays script actions through four callables, remembering the ids the services hand back.

The scenario names things by ref (``a1``, ``m7``, thread ``mayadin``); the activities and hotline
services assign their own ids. ``ScriptPlayer`` keeps the mapping so the callables only ever see
service ids, and refuses an action whose subject was never created (a bug in the wiring, named).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from keepclear.errors import KeepclearError
from keepclear.scenario.model import ScriptedMessage
from keepclear.scenario.script import (
    AcknowledgeActivity,
    NotifyActivity,
    PostMessage,
    ScriptAction,
)


class PostFn(Protocol):
    """Posts a hotline message; returns (message id, thread id)."""

    def __call__(
        self, message: ScriptedMessage, thread_id: str | None, reply_to_id: str | None
    ) -> tuple[str, str]:  # fmt: skip
        """``thread_id`` None opens a new thread; ``reply_to_id`` is the service id of the message answered."""


class ScriptPlayer:
    """An ``ActionHandler`` over the services.

    ``notify(party_id, body) -> activity id``; ``acknowledge_activity(party_id, activity id)``;
    ``post(message, thread_id, reply_to_id) -> (message id, thread id)``;
    ``acknowledge_message(party_id, message id)``.
    """

    def __init__(
        self,
        notify: Callable[[str, Mapping[str, Any]], str],
        acknowledge_activity: Callable[[str, str], None],
        post: PostFn,
        acknowledge_message: Callable[[str, str], None],
    ) -> None:
        self._notify = notify
        self._acknowledge_activity = acknowledge_activity
        self._post = post
        self._acknowledge_message = acknowledge_message
        self.activity_ids: dict[str, str] = {}
        self.message_ids: dict[str, str] = {}
        self.thread_ids: dict[str, str] = {}

    def perform(self, action: ScriptAction) -> None:
        """Carry out one action."""
        if isinstance(action, NotifyActivity):
            activity = action.activity
            self.activity_ids[activity.ref] = self._notify(activity.party_id, activity.body)
        elif isinstance(action, AcknowledgeActivity):
            self._acknowledge_activity(action.party_id, self._known(self.activity_ids, action.ref, "activity"))
        elif isinstance(action, PostMessage):
            message = action.message
            reply_to = None if message.reply_to is None else self._known(self.message_ids, message.reply_to, "message")
            message_id, thread_id = self._post(message, self.thread_ids.get(message.thread), reply_to)
            self.message_ids[message.ref] = message_id
            self.thread_ids.setdefault(message.thread, thread_id)
        else:
            self._acknowledge_message(action.party_id, self._known(self.message_ids, action.ref, "message"))

    @staticmethod
    def _known(ids: dict[str, str], ref: str, what: str) -> str:
        try:
            return ids[ref]
        except KeyError:
            raise KeepclearError(f"scenario {what} {ref!r} was never created; cannot act on it") from None
