"""A bounded table of per-sender state (an aircraft by ICAO address), the least recently heard forgotten first.

Decoders keep what one message lacks and another gives (altitude, velocity) per sender; a feed can
name any number of senders, so the table is bounded and forgets the sender heard from longest ago.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class RecentTable(Generic[K, V]):
    """At most ``max_entries`` values by key; ``get`` makes a missing one with ``make``."""

    def __init__(self, make: Callable[[], V], max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries: {max_entries} must be at least 1")
        self._make = make
        self.max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()

    def get(self, key: K) -> V:
        """The value of ``key`` (made now when missing), marked as heard from most recently."""
        value = self._entries.get(key)
        if value is None:
            value = self._entries[key] = self._make()
            if len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        return value

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries
