"""The tactical picture's SSE text, built once a tick per party, however many of its streams send it.

After every probe tick each ``/v1/stream`` connection sends its party's picture (``event:
tracks.picture``): the units the party may see now, which depend on the party only. Built per
connection (as before), a party's 200 open consoles over a picture of 2,000 units made 200 lists of
models and 200 JSON texts of half a megabyte every tick, the JSON on the event loop: the loop fell
seconds behind and another party's alerts reached its stream 7 to 9 s late (28 ms without them).
Here the first connection of a party that asks for a tick's picture builds its text in a worker
thread; the others of that tick wait for it and send the same text.

Bound: one text per party with a stream open, of the latest tick only (a new tick forgets them all);
metrics ``stream_pictures_built_total``, ``stream_picture_parties``, ``stream_picture_bytes``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping

#: The tactical picture as one connection may see it now (called off the event loop), or None.
PictureView = Callable[[], dict[str, object] | None]


class PictureTexts:
    """Each party's picture text of the latest tick (``new_tick`` starts the next)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._generation = 0
        #: party → (the tick it was built for, its SSE text, or None when the view showed nothing).
        self._texts: dict[str, tuple[int, str | None]] = {}
        #: party → the lock its builder of this tick holds (the party's other connections wait on it).
        self._building: dict[str, threading.Lock] = {}
        self.built_total = 0

    @property
    def generation(self) -> int:
        """The latest tick's number: a connection that takes its picture mark asks for this one."""
        return self._generation

    def new_tick(self) -> None:
        """A probe tick ended (any thread): the texts kept are stale, forgotten."""
        with self._lock:
            self._generation += 1
            self._texts.clear()
            self._building.clear()

    def text(self, party_id: str, generation: int, picture: PictureView) -> str | None:
        """The picture text of ``party_id`` for tick ``generation`` or later (a worker thread: it may
        wait for another connection of the party building it, and builds it otherwise)."""
        with self._lock:
            building = self._building.setdefault(party_id, threading.Lock())
        with building:
            with self._lock:
                found = self._texts.get(party_id)
            if found is not None and found[0] >= generation:
                return found[1]
            shown = picture()
            text = (
                None
                if shown is None
                else f"event: tracks.picture\ndata: {json.dumps(shown, separators=(',', ':'))}\n\n"
            )
            with self._lock:
                self.built_total += 1
                if generation == self._generation:
                    self._texts[party_id] = (generation, text)
            return text

    def gauges(self) -> Mapping[str, Callable[[], float]]:
        return {
            "stream_pictures_built_total": lambda: self.built_total,
            "stream_picture_parties": lambda: len(self._texts),
            "stream_picture_bytes": lambda: sum(len(t or "") for _, t in list(self._texts.values())),
        }
