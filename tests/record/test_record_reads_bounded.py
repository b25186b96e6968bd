"""What a party may ask of the record again and again reads what the answer needs, not the record.

A size without a signed head (a proof's ``size``, ``GET /v1/record/cosignatures?size=``) is refused
naming the latest signed sizes: before, every checkpoint row, its note text with it, was read to name
them (one checkpoint every 100 entries: ten thousand rows for a record of a million entries) on every
such request. The cosignatures of the latest cosigned head read that head's alone, not every
cosignature of every head.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from keepclear.errors import NotFoundError
from keepclear.ledger import Ledger
from keepclear.store import ledger as ledger_store

#: Checkpoints stored besides the ledger's own: a record of 300,000 entries' worth (one every 100).
MANY = 3000
FIRST_SIZE = 1_000_000
#: The signed sizes a refusal names (``tlog.NAMED_SIZES``).
NAMED_SIZES = 10


def _rows_read(monkeypatch: pytest.MonkeyPatch, word: str) -> list[int]:
    """Rows each store function of the ledger whose name holds ``word`` returns from now on."""
    read: list[int] = []
    for name in dir(ledger_store):
        function = getattr(ledger_store, name)
        if word in name and callable(function) and not name.startswith(("insert", "set", "delete")):

            def counted(*args: object, function: object = function, **kwargs: object) -> object:
                found = function(*args, **kwargs)  # type: ignore[operator]
                read.append(len(found) if isinstance(found, list) else 1)
                return found

            monkeypatch.setattr(ledger_store, name, counted)
    return read


@pytest.fixture
def many_checkpoints(populated: Ledger) -> Iterator[Ledger]:
    """``populated`` with ``MANY`` more signed checkpoints stored, each with a kilobyte of note."""
    rows = [
        {
            "seq": FIRST_SIZE + 100 * i,
            "head_hash": "0" * 64,
            "time_us": 0,
            "key_id": "k",
            "signature": "s",
            "note": "n" * 1024,
        }
        for i in range(MANY)
    ]
    with populated._db.write() as conn:
        conn.execute(ledger_store.ledger_checkpoints.insert(), rows)
    yield populated


def test_a_size_without_a_signed_head_reads_a_few_checkpoints_however_many_there_are(
    many_checkpoints: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _rows_read(monkeypatch, "checkpoint")
    asks = [
        lambda: many_checkpoints.inclusion_proof(1, tree_size=FIRST_SIZE + 1),
        lambda: many_checkpoints.consistency_proof(1, FIRST_SIZE + 1),
        lambda: many_checkpoints.cosignatures(FIRST_SIZE + 1),
    ]
    for ask in asks:
        with pytest.raises(NotFoundError) as refused:
            ask()
        assert read and max(read) <= NAMED_SIZES + 1, read  # the row of the size, then at most 11 seqs
        last = FIRST_SIZE + 100 * (MANY - 1)
        named = ", ".join(str(last - 100 * i) for i in reversed(range(NAMED_SIZES)))
        assert f"(latest signed sizes: {named} ...)" in str(refused.value)


def test_the_latest_cosignatures_read_that_head_s_alone(populated: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    size = populated.latest_head().seq
    earlier = [(s, f"p{i:04d}") for s in range(1, size) for i in range(MANY // (size - 1) + 1)]
    rows = [(s, p) for s, p in earlier] + [(size, p) for p in ("coalition", "russia", "un")]
    with populated._db.write() as conn:
        conn.execute(
            ledger_store.ledger_cosignatures.insert(),
            [{"tree_size": s, "party_id": p, "witness_key": "w", "line": f"l {p}", "time_us": 0} for s, p in rows],
        )
    read = _rows_read(monkeypatch, "cosign")
    head, lines = populated.cosignatures()
    assert head.seq == size and lines == {p: f"l {p}" for p in ("coalition", "russia", "un")}
    assert read and max(read) <= 3, read
