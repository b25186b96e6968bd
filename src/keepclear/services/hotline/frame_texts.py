"""The JSON text of the hotline socket's frames, a message's rendered once per reader party and language.

A party's many sockets (25 keys × 8 consoles) each rendered and JSON-encoded every message they were
sent, on the event loop: one party posting 16 KiB bodies at its rate into a thread with such a party
made 200 renders of each message there, and another party's alerts reached its ``/v1/stream`` 5 to
13 s late (7 ms without them). ``MessageTexts`` renders a message's frame once for each party and language
of its readers, on the thread that committed it (``HotlineHub.on_messages``), and every socket of that language sends
the same text; ``hotline_message_frames_rendered_total`` counts the renders.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from keepclear.domain.hotline import Message

#: ``message`` as a reader of ``language`` and of a party sees it (``HotlineService.view``).
MessageView = Callable[[Message, str, str | None], dict[str, Any]]


class FrameText(NamedTuple):
    """A frame's JSON text and its UTF-8 bytes (what it takes of a ``batch`` frame)."""

    text: str
    size_bytes: int


def frame_text(frame: dict[str, Any]) -> FrameText:
    """``frame`` as the socket sends it.

    >>> frame_text({"type": "pong"})
    FrameText(text='{"type": "pong"}', size_bytes=16)
    """
    text = json.dumps(frame, ensure_ascii=False)
    return FrameText(text, len(text) if text.isascii() else len(text.encode()))  # isascii: no copy, no scan


class MessageTexts:
    """Renders ``message`` frames (``{"type": "message", "message": <view>}``) with ``view``, counting them."""

    def __init__(self, view: MessageView) -> None:
        self._view = view
        self._lock = threading.Lock()
        self.rendered_total = 0

    def text(self, message: Message, language: str, reader: str | None) -> FrameText:
        """The ``message`` frame of ``message`` for a reader of ``language`` and party ``reader`` (any
        thread): a view may differ by party (an escalation stored before escalations stopped naming
        the contact shows it to the overdue party alone), so a frame is shared within one party."""
        rendered = frame_text({"type": "message", "message": self._view(message, language, reader)})
        with self._lock:
            self.rendered_total += 1
        return rendered
