"""One record export streaming per party at a time.

An export (``GET /v1/record/export``) reads the whole record, a chunk at a time (``ledger.export``):
its memory is bounded, its work is not (the record's length, every time). Any party may ask for it,
and up to ``max_requests_in_flight_per_party`` at once; so a party's export is refused while another
of its exports is streaming (429 + ``Retry-After``, before anything is read), and a party holds at
most one such reader of the store whatever it sends. Per API process; the admin keys are one holder.

The slot is given back when the stream ends, fails or is dropped unsent (a client gone before its
first piece: the stream is then collected, and ``weakref.finalize`` gives it back).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import AsyncIterator, Callable, Iterable

from starlette.concurrency import iterate_in_threadpool

from keepclear.errors import OverloadedError

#: Seconds a refused export is told to wait.
RETRY_AFTER_S = 5.0


class ExportStreams:
    """The parties streaming an export now (see the module docstring)."""

    def __init__(self) -> None:
        self._streaming: dict[str, object] = {}  # holder -> its stream's token
        self._lock = threading.Lock()
        #: Exports refused while their party's was streaming (``record_exports_refused_busy_total``).
        self.refused_busy = 0

    @property
    def streaming(self) -> int:
        """Exports streaming now (``record_exports_streaming``)."""
        return len(self._streaming)

    def take(self, holder: str) -> ExportSlot:
        """Take ``holder``'s slot (``OverloadedError`` while its export streams)."""
        slot = ExportSlot(self, holder)
        with self._lock:
            if holder in self._streaming:
                self.refused_busy += 1
                raise OverloadedError(
                    f"party {holder or 'admin'} is exporting the record already: one export at a time;"
                    " ask again once it has ended",
                    retry_after_s=RETRY_AFTER_S,
                )
            self._streaming[holder] = slot
        return slot

    def _release(self, slot: ExportSlot) -> None:
        with self._lock:
            if self._streaming.get(slot.holder) is slot:
                del self._streaming[slot.holder]


class ExportSlot:
    """A party's export streaming: ``stream`` its pieces, which gives the slot back at their end, or
    ``release`` it when there is nothing to stream (the export failed before its first piece)."""

    def __init__(self, streams: ExportStreams, holder: str) -> None:
        self._streams = streams
        self.holder = holder

    def release(self) -> None:
        """Give the slot back (again: nothing)."""
        self._streams._release(self)

    def stream(self, pieces: Iterable[str]) -> AsyncIterator[str]:
        """``pieces`` as the body of a streamed answer, the slot given back at its end however it ends."""
        body = _released_after(pieces, self.release)
        weakref.finalize(body, self.release)
        return body


async def _released_after(pieces: Iterable[str], release: Callable[[], None]) -> AsyncIterator[str]:
    try:
        async for piece in iterate_in_threadpool(iter(pieces)):
            yield piece
    finally:
        release()
