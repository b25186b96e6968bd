"""A bound shared fairly between the parties filling it (the track ingest queue, the large bodies
waiting to be judged): what each holds now, and whether one may take more.

Within the bound anyone may take; over it, a party holding less than its share (the bound over the
parties holding any, itself counted) still may, up to that share and within a cap on the whole. So
one party filling the bound, from as many clients as it likes, cannot keep another out. The callers
serialise the calls (their own lock, or their event loop).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TypeVar

K = TypeVar("K", bound=Hashable)


class Shares(dict[K, int]):
    """Per party holding any, how much it holds (a party holding none is not kept)."""

    def take(self, party: K, count: int) -> None:
        """``party`` holds ``count`` more."""
        self[party] = self.get(party, 0) + count

    def give_back(self, party: K, count: int) -> None:
        """``party`` holds ``count`` fewer (forgotten at none)."""
        left = self[party] - count
        if left:
            self[party] = left
        else:
            del self[party]

    def within_share(self, party: K, wanted: int, bound: int, held_in_all: int, cap: int) -> bool:
        """Whether ``wanted`` more of ``party``'s keep it within its share of ``bound`` and the whole
        (``held_in_all`` now) within ``cap``: what may be taken over the bound."""
        sharing = len(self) + (party not in self)
        return self.get(party, 0) + wanted <= bound // sharing and held_in_all + wanted <= cap

    def most(self) -> int:
        """What the party holding most holds (0 when none holds any)."""
        return max(self.values(), default=0)
