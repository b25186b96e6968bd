"""What a live client may have waiting to be sent: at most so many items and so many bytes of them.

One rule for the ``/v1/stream`` clients (``api.streams``) and the hotline sockets
(``services.hotline.hub``): each counts its queue's items itself and the bytes of them here.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Bytes one client may have waiting to be sent before it is cut (a stream) or told to resume (a
#: hotline socket): an item may be large (an activity's geometry, a commit's messages), so a bound
#: in items alone let each slow client hold gigabytes.
BACKLOG_BYTES = 64 * 1024 * 1024


@dataclass(eq=False, slots=True)
class Backlog:
    """The bytes of what one client has waiting (``queued_bytes``) and whether one more item fits:
    at most ``max_items`` items and ``max_bytes`` bytes, except that an item alone in an empty
    backlog always fits (one larger than ``max_bytes`` is sent, never refused for ever)."""

    max_items: int
    max_bytes: int = BACKLOG_BYTES
    queued_bytes: int = 0

    def fits(self, items: int, size_bytes: int) -> bool:
        """Whether one more item of ``size_bytes`` fits beside the ``items`` waiting."""
        if items >= self.max_items:
            return False
        return not self.queued_bytes or self.queued_bytes + size_bytes <= self.max_bytes

    def add(self, size_bytes: int) -> None:
        """An item of ``size_bytes`` was queued."""
        self.queued_bytes += size_bytes

    def take(self, size_bytes: int) -> None:
        """An item of ``size_bytes`` left the queue (to be sent)."""
        self.queued_bytes -= size_bytes
