"""Two processes at one bound at once: the first's write held open while the second tries its own.

A bound counted in the store (threads a party opened, proposals pending) must hold across API
processes: the second may count only once the first has committed. ``race_at_bound`` runs the first
write until ``hold`` says it has stored its row, keeps its transaction open, starts the second, checks
it waits, then lets both finish and returns their answers (a value, or the ``ConflictError``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from keepclear.errors import ConflictError


class Held:
    """The point inside the first write where its transaction is kept open: call ``reached()`` there."""

    def __init__(self) -> None:
        self.inserted = threading.Event()
        self.release = threading.Event()

    def reached(self) -> None:
        self.inserted.set()
        self.release.wait(20)  # the first process's transaction stays open, its row counted in it


def race_at_bound(first: Callable[[], Any], second: Callable[[], Any], held: Held) -> tuple[Any, Any]:
    """Run ``first`` until it reaches ``held``, then ``second``; assert ``second`` waits for the first's
    commit; return both answers (a ``ConflictError`` as the answer of a write refused)."""
    answers: dict[str, Any] = {}

    def run(name: str, write: Callable[[], Any]) -> None:
        try:
            answers[name] = write()
        except ConflictError as exc:
            answers[name] = exc

    try:
        a = threading.Thread(target=run, args=("first", first))
        a.start()
        assert held.inserted.wait(20)
        b = threading.Thread(target=run, args=("second", second))
        b.start()
        b.join(1.0)
        assert b.is_alive(), "the second process counted while the first had not committed"
        held.release.set()
        a.join(20)
        b.join(20)
    finally:
        held.release.set()
    return answers["first"], answers["second"]
