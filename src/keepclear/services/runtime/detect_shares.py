"""The shares of the detector workers: their names, their cells, and the checks a worker makes of
the shares it is given. Plain values, the same in every process, so the CLI, the workers and the
tests cut the theatre alike (``detect_worker`` runs them).

Worker ``I`` of ``N`` is named ``w<I>of<N>`` and its own share is ``w<I>of<N>``; with
``shares_per_worker`` ``K`` it owns ``K`` finer shares ``w<I>of<N>-<k>of<K>`` instead. A share's cells
come by rendezvous hashing over the share names (``detect.cells.assign_cells``). A share's name
names its JetStream consumer, its lock and its run marks (never an alert id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from keepclear.detect.cells import assign_cells
from keepclear.errors import ValidationError

__all__ = [
    "Share",
    "cells_of_worker",
    "check_shares",
    "home_role",
    "shares_of_workers",
    "tidy",
    "worker_name_problem",
    "worker_of",
]

_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


@dataclass(frozen=True)
class Share:
    """A named set of cells probed as one: its durable consumer, its lock and its run marks carry the
    name (never an alert id). ``worker``: the worker whose own share it is (its home lock tells
    whether it lives)."""

    name: str
    cells: np.ndarray
    worker: str


def worker_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a worker or a share (it names a JetStream consumer, a lock and a run
    mark), or None."""
    if not 1 <= len(name) <= 64 or not set(name) <= _NAME_CHARS:
        return f"{name!r} must be 1 to 64 letters, digits, '-' or '_'"
    return None


def worker_of(index: int, workers: int) -> str:
    """The name of worker ``index`` of ``workers``: ``w<index>of<workers>``."""
    return f"w{index}of{workers}"


def cells_of_worker(cell_count: int, index: int, workers: int, shares_per_worker: int = 1) -> np.ndarray:
    """The cells worker ``index`` of ``workers`` owns (its shares' together), ascending."""
    if workers < 1 or not 0 <= index < workers:
        raise ValidationError([f"worker_index: {index} is not in 0..{workers - 1} (--workers {workers})"])
    own = [
        s.cells
        for s in shares_of_workers(cell_count, workers, shares_per_worker)
        if s.worker == worker_of(index, workers)
    ]
    return np.unique(np.concatenate(own))


def shares_of_workers(cell_count: int, workers: int, shares_per_worker: int = 1) -> list[Share]:
    """The shares of ``workers`` workers, ``shares_per_worker`` each, by worker then share: ``w<i>of<N>``
    (one a worker) or ``w<i>of<N>-<k>of<K>``; their cells by rendezvous hashing over the share names
    (``detect.cells.assign_cells``): disjoint, every cell in one, the same map in every process."""
    if workers < 1 or shares_per_worker < 1:
        raise ValidationError([f"workers, shares_per_worker: {workers}, {shares_per_worker} must be at least 1"])
    owners = [worker_of(i, workers) for i in range(workers)]
    named = [
        (owner if shares_per_worker == 1 else f"{owner}-{k}of{shares_per_worker}", owner)
        for owner in owners
        for k in range(shares_per_worker)
    ]
    cells = assign_cells(np.arange(cell_count, dtype=np.int64), [name for name, _ in named])
    empty = [name for name, _ in named if not len(cells.get(name, ()))]
    if empty:
        raise ValidationError(
            [
                f"shares_per_worker: {len(named)} shares of {cell_count} cells leave {len(empty)} empty"
                f" ({empty[0]}, ...): give fewer workers or shares, or smaller cells (detect_cell_deg)"
            ]
        )
    return [Share(name, cells[name], owner) for name, owner in named]


def tidy(share: Share) -> Share:
    """``share`` with its cells as sorted unique int64."""
    return Share(share.name, np.unique(np.asarray(share.cells, dtype=np.int64)), share.worker)


def home_role(name: str) -> str:
    """The lock a worker holds while it lives (``name``: the worker's)."""
    return f"detect-home:{name}"


def check_shares(name: str, home: Sequence[Share], others: Sequence[Share], cell_count: int) -> None:
    """``ValidationError`` unless every share has a good name and at least one cell, each in
    ``0..cell_count - 1``, and worker ``name``'s own shares (``home``) name it as their worker while
    none of the ``others`` (those it may adopt) does."""
    for share in [*home, *others]:
        if worker_name_problem(share.name):
            raise ValidationError([f"name: share {worker_name_problem(share.name)}"])
        owned = share.cells
        if not len(owned) or int(np.min(owned)) < 0 or int(np.max(owned)) >= cell_count:
            raise ValidationError([f"cells: give at least one cell, each in 0..{cell_count - 1}"])
    if any(share.worker != name for share in home) or any(share.worker == name for share in others):
        raise ValidationError(
            [f"name: {name!r} must name the worker of its own shares and of none of the others it may adopt"]
        )
