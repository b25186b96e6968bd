"""Appending to the ``Ledger``: one entry, a batch in one transaction, or a batch in the caller's.

Each batch locks the head once, registers the keys it needs first (a party it admits, or an acting
party without a key: ``core``), chains its drafts in one pass (``batch``) and signs the checkpoints
that appending one at a time would have signed, each over the tree of its size.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from keepclear.ledger.batch import AppendedEntries, Checked, EntryDraft, chain
from keepclear.ledger.core import LedgerCore
from keepclear.ledger.keys import Ed25519PrivateKey, key_id_of
from keepclear.ledger.model import Entry, time_us_of
from keepclear.ledger.rows import checkpoint_values
from keepclear.store import ledger as store
from keepclear.store.ledger import Head


class Appends(LedgerCore):
    """``append``, ``append_many`` and ``append_many_in``."""

    def append(
        self,
        kind: str,
        party_id: str | None,
        payload: Any,
        *,
        time_s: float | None = None,
        audience: list[str] | tuple[str, ...] | frozenset[str] | None = None,
    ) -> Entry:
        """Append an entry acted by ``party_id`` (None: the deployment itself), signed as described above.

        ``audience`` names the parties who may read the payload (None: everyone); exports for other
        parties carry only its hash. Raises ``ValidationError`` when the payload is not canonical JSON.
        """
        (entry,) = self.append_many([EntryDraft(kind, party_id, payload, time_s, audience)])
        return entry

    def append_many(self, drafts: Sequence[EntryDraft]) -> Sequence[Entry]:
        """Append several entries in one transaction, in order, each exactly as ``append`` would.

        All or nothing: a draft that ``append`` would refuse refuses the whole batch before anything
        is written. One lock of the head, one insert of many rows: a probe tick's hundreds of alert
        changes cost one commit, not hundreds.
        """
        if not drafts:
            return []
        with self.writing() as conn:
            return self.append_many_in(conn, drafts)

    @contextlib.contextmanager
    def writing(self) -> Iterator[Any]:
        """A write transaction in which ``append_many_in`` may be called (the Merkle tree follows it)."""
        with self._write() as conn:
            yield conn

    def append_many_in(self, conn: Any, drafts: Sequence[EntryDraft]) -> Sequence[Entry]:
        """``append_many`` inside the caller's transaction (``conn`` from ``Ledger.writing()``).

        The record's outbox appends its rows and deletes them in one commit, so that each staged row
        becomes exactly one entry however the process stops. A batch that fails (a savepoint rolled
        back) drops the in-memory tree, which the next write rebuilds from the store.
        """
        checked = [self._checker.check(draft) for draft in drafts]
        if not checked:
            return []
        with self._tlog.undone_on_failure(), self._tlog.held(conn):  # leaves of a batch that will not commit
            return self._append_in(conn, checked)

    def _append_in(self, conn: Any, checked: Sequence[Checked]) -> AppendedEntries:
        now_s = self._clock.now_s()
        head = self._head(conn)
        # Keys first (registering a custodial key is itself an entry): those of the parties the batch
        # admits, else of an acting party without one (the fallback); then the batch's entries.
        signers: dict[str | None, Ed25519PrivateKey] = {}
        for draft, _, _ in checked:
            if draft.admits is not None:
                head = self._admit(conn, head, draft.admits)
            if draft.party_id not in signers:
                head, signers[draft.party_id] = self._signer(conn, head, draft.party_id)
        signatures = None
        if self._config.entry_signatures != "batch":
            signatures = {party: (key_id_of(key.public_key()), key) for party, key in signers.items()}
        nonces = self._random_bytes(16 * len(checked)).hex()  # one draw for the batch
        chained = chain(checked, head.seq, head.hash, now_s, nonces, signatures)
        tree = self._tlog.tree
        assert tree.size == head.seq, "tree synced by _head"
        # Checkpoints where appending one at a time would have signed them: at the first entry when
        # the interval has passed, and every ``checkpoint_every_entries`` entries since the last one.
        # The tree grows to each one's size before it is signed: the root of its current size is in memory.
        now_us = time_us_of(now_s)
        checkpoints = []
        every, first_seq = self._config.checkpoint_every_entries, head.seq + 1
        if time_us_of(self._config.checkpoint_interval_s) <= 0:
            every = 1  # the interval has always passed: every entry is signed
        due_seq = head.checkpoint_seq + every
        if self._checkpoint_due(Head(first_seq, "", head.checkpoint_seq, head.checkpoint_us), now_us):
            due_seq = first_seq
        deployment_key = self._deployment_key(conn) if due_seq <= chained.seq else None
        while due_seq <= chained.seq:
            tree.extend(chained.leaves[tree.size - head.seq : due_seq - head.seq])
            row = chained.rows[due_seq - first_seq]
            checkpoints.append(self._signed_checkpoint(conn, Head(row[0], row[2], 0, 0), now_us, deployment_key))
            due_seq += every
        tree.extend(chained.leaves[tree.size - head.seq :])
        store.insert_entry_rows(conn, chained.rows, chained.refs)
        store.insert_checkpoints(conn, [checkpoint_values(c) for c in checkpoints])
        return AppendedEntries(chained.rows)
