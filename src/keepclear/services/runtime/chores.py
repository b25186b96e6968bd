"""Chores: the periodic work other parties' data can make long (deadlines falling due by the
thousand, incidents to freeze, retention), run apart from the probe's tick.

A chore does one bounded piece a call. One that stopped at its bound with more due returns
``MORE``: the chores thread comes back to it at once, after every other chore had its turn, rather
than a ``tick_s`` later. So a flood of one kind (a party's thousands of activity deadlines) neither
waits a period between its batches nor holds back the others (a hotline escalation due meanwhile
goes within a batch's time), and each call first lets a computing probe finish (``wait_clear``).
Driven by hand (replays, tests), a tick runs each chore until it has nothing more due, in order.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence, Sized
from typing import Protocol

__all__ = ["MORE", "Batched", "Chore", "one_batch_a_call", "run_round", "run_to_end"]


class _Signal(enum.Enum):
    MORE = "more"


#: What a chore returns when its bound cut it short with more due now.
MORE = _Signal.MORE
#: A chore: its name and ``run(now_s)`` (its result: ``MORE`` or anything else).
Chore = tuple[str, Callable[[float], object]]
#: Most calls of one chore in a tick driven by hand (a chore that never ends must not hang a replay).
BY_HAND_CALLS_MAX = 100_000


class Batched(Protocol):
    """A deadline watcher: ``run(now_s, max_batches=k)`` takes at most ``k`` batches, returns what it did."""

    def __call__(self, now_s: float | None = None, *, max_batches: int | None = None) -> Sized: ...


def one_batch_a_call(run: Batched, batch: int) -> Callable[[float], object]:
    """The chore of a deadline watcher taking ``batch`` at a time: one batch a call, ``MORE`` while a
    whole batch was taken (the next may be due too)."""

    def step(now_s: float) -> object:
        return MORE if len(run(now_s, max_batches=1)) >= batch else None

    return step


def run_round(chores: Sequence[Chore], before_each: Callable[[], None], now_s: Callable[[], float]) -> bool:
    """Call every chore once, ``before_each`` first (the probe's priority); whether any has more due."""
    more = False
    for _name, run in chores:
        before_each()
        more = run(now_s()) is MORE or more
    return more


def run_to_end(chores: Sequence[Chore], now_s: float) -> None:
    """Call each chore, in order, until it has nothing more due (a tick driven by hand)."""
    for _name, run in chores:
        for _ in range(BY_HAND_CALLS_MAX):
            if run(now_s) is not MORE:
                break
