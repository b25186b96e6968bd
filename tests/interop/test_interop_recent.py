"""The decoders' per-sender table: bounded, forgetting the sender heard from longest ago."""

from __future__ import annotations

import pytest

from keepclear.interop.recent import RecentTable


def test_the_least_recently_heard_sender_is_forgotten_first() -> None:
    table: RecentTable[str, list[int]] = RecentTable(list, max_entries=2)
    table.get("a").append(1)
    table.get("b").append(2)
    assert table.get("a") == [1]  # heard again: now the most recent
    table.get("c")
    assert len(table) == 2 and "b" not in table and "a" in table and "c" in table
    assert table.get("b") == [], "a forgotten sender starts afresh"


def test_a_table_holds_at_least_one_sender() -> None:
    with pytest.raises(ValueError, match="max_entries"):
        RecentTable(list, max_entries=0)
