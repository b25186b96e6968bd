"""The ``Ledger``'s state and write path, which its parts share: the head, the genesis, who signs, checkpoints.

Every append goes through ``Database.write()`` with the head row locked, so the chain stays linear
under concurrent writers on SQLite and PostgreSQL; the in-memory Merkle tree (``tlog``) follows each
write transaction and is truncated should it not commit.

Who signs an entry:

- the deployment key signs system events (no acting party), key registrations and checkpoints;
- a party in **custodial** mode (the default: its key is made when the party is admitted, by the
  entry that admits it, ``EntryDraft.admits``, and kept in the deployment's key folder) has its
  entries signed with its own key by the deployment. A party the ledger never saw admitted (one of
  a deployment older than admission keys, until ``admit`` registers it) gets its key at its first
  entry instead;
- a party in **strong** mode holds its own key (``custody``); events the deployment observes about
  it (e.g. from the bus) are signed with the deployment key, so the record says plainly that the
  deployment, not the party, vouches for them.

The public parts of the ``Ledger`` (``book``) build on ``LedgerCore``: ``appends``, ``custody``,
``submissions``, ``heads``, ``witnessing`` and ``export``.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from keepclear.domain.events import Clock
from keepclear.errors import ForbiddenError
from keepclear.ledger.batch import DraftChecker
from keepclear.ledger.canonical import sha256_hex
from keepclear.ledger.keys import Ed25519PrivateKey, KeyFolder, key_id_of, public_key_b64, public_key_from_b64, sign_b64
from keepclear.ledger.merkle import BLOCK_CACHE_BYTES, BLOCK_LEVEL, leaf_hash
from keepclear.ledger.model import DEPLOYMENT, Checkpoint, Entry, Statement, checkpoint_bytes, payload_text, time_us_of
from keepclear.ledger.note import TreeHead, origin_of, sign_head
from keepclear.ledger.refs import text_refs
from keepclear.ledger.rows import chained, checkpoint_values
from keepclear.ledger.spec import EXPORT_FORMAT, GENESIS_KIND, KEY_REGISTERED
from keepclear.ledger.tlog import LogTree
from keepclear.store import ledger as store
from keepclear.store.database import Database
from keepclear.store.ledger import Head, StoredKey


class SignatureRefused(ForbiddenError):
    """A strong-mode submission that is unsigned, wrongly signed, stale or replayed."""


@dataclass(frozen=True, slots=True)
class LedgerConfig:
    """Tunables of the ledger.

    ``checkpoint_every_entries``: the deployment signs the head at least every this many entries.
    ``checkpoint_interval_s``: ...and at the first append once this many seconds passed since the last.
    ``submission_skew_s``: a signed submission's time may differ from the deployment clock by this much.
    ``entry_signatures``: ``"batch"`` — entries appended for custodial parties and the deployment carry
    no signature of their own; the deployment vouches for them with the next signed tree head (one
    signature a batch, not one an entry). ``"each"`` — every entry is signed (custodial parties with
    their own key), as before. Strong-mode submissions, genesis and key entries are always signed.
    ``tree_block_level``: the Merkle tree keeps in memory the levels from this one up (blocks of
    2^level entries) and reads a block's leaves back from the store for a proof (``merkle``); not an
    operator's setting (tests use small blocks).
    ``tree_cache_bytes``: ...keeping the blocks read back last, at most this many bytes of them (1 MiB:
    64 blocks of 256); not an operator's setting either (tests and the benchmark use others).
    """

    checkpoint_every_entries: int = 100
    checkpoint_interval_s: float = 600.0
    submission_skew_s: float = 300.0
    entry_signatures: str = "batch"
    tree_block_level: int = BLOCK_LEVEL
    tree_cache_bytes: int = BLOCK_CACHE_BYTES


class LedgerCore:
    """What every part of the ``Ledger`` shares (see the module docstring); not used on its own."""

    def __init__(
        self,
        db: Database,
        keys: KeyFolder,
        clock: Clock,
        config: LedgerConfig | None = None,
        *,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        """``random_bytes`` makes nonces (tests and the test-vector generator pass a seeded one)."""
        self._random_bytes = random_bytes
        self._db = db
        self._keys = keys
        self._clock = clock
        self._config = config or LedgerConfig()
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._checker = DraftChecker()
        self._origin: str | None = None
        self._tlog = LogTree(self._config.tree_block_level, self._config.tree_cache_bytes)

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction; the in-memory tree follows it, and is truncated should it not commit."""
        with self._tlog.undone_on_failure(), self._db.write() as conn, self._tlog.held(conn):
            yield conn

    def _origin_of(self, conn: Any) -> str:
        if self._origin is None:
            genesis = store.entry_at(conn, 1)
            assert genesis is not None, "the chain has its genesis entry"
            self._origin = origin_of(genesis.key_id)
        return self._origin

    def _head_note(self, conn: Any, size: int, private_key: Ed25519PrivateKey) -> str:
        """The signed tree head of ``size`` (in a write: the tree ``_head`` synced, plus this batch; a
        size the tree has just reached costs no read)."""
        return sign_head(TreeHead(self._origin_of(conn), size, self._tlog.tree.root(size)), private_key)

    # -- signing helpers -------------------------------------------------------------------
    def _private_key(self, key_id: str) -> Ed25519PrivateKey:
        if key_id not in self._private:
            self._private[key_id] = self._keys.load(key_id)
        return self._private[key_id]

    def _statement(
        self, kind: str, party_id: str | None, text: str, time_s: float, audience: tuple[str, ...] | None
    ) -> Statement:
        return Statement(
            party_id, kind, time_us_of(time_s), sha256_hex(text.encode("utf-8")), self._random_bytes(16).hex(), audience
        )

    def _place(
        self, conn: Any, head: Head, statement: Statement, text: str, key_id: str | None, signature: str | None
    ) -> tuple[Head, Entry]:
        head, entry, row = self._chained(head, statement, text, key_id, signature)
        store.insert_entry_rows(conn, [row], [(ref, statement.time_us, entry.seq) for ref in text_refs(text)])
        return head, entry

    def _chained(
        self, head: Head, statement: Statement, text: str, key_id: str | None, signature: str | None
    ) -> tuple[Head, Entry, tuple[Any, ...]]:
        """The entry that follows ``head``, its row, the head after it; its leaf joins the tree."""
        head, entry, row = chained(head, statement, text, key_id, signature)
        tree = self._tlog.tree
        assert tree.size == entry.seq - 1, "tree synced by _head"
        tree.append(leaf_hash(bytes.fromhex(row[2])))
        return head, entry, row

    def _sign_and_place(
        self, conn: Any, head: Head, statement: Statement, text: str, private_key: Ed25519PrivateKey
    ) -> tuple[Head, Entry]:
        key_id = key_id_of(private_key.public_key())
        return self._place(conn, head, statement, text, key_id, sign_b64(private_key, statement.to_bytes()))

    def _head(self, conn: Any) -> Head:
        """The locked head, writing the genesis entry first when the chain is empty."""
        head = store.lock_head(conn)
        if head is None:
            store.create_head(conn)
            head = store.lock_head(conn)
        assert head is not None
        self._tlog.at_head(conn, head.seq, head.hash)
        if head.seq > 0:
            return head
        private_key = self._keys.generate()
        key_id = key_id_of(private_key.public_key())
        self._private[key_id] = private_key
        public_key = public_key_b64(private_key.public_key())
        payload = {
            "owner": DEPLOYMENT,
            "key_id": key_id,
            "public_key": public_key,
            "custodial": True,
            "format": EXPORT_FORMAT,
        }
        text = payload_text(payload)
        statement = self._statement(GENESIS_KIND, None, text, self._clock.now_s(), None)
        head, _ = self._sign_and_place(conn, head, statement, text, private_key)
        store.insert_key(conn, StoredKey(key_id, DEPLOYMENT, public_key, True, head.seq, None))
        return head

    def _deployment_key(self, conn: Any) -> Ed25519PrivateKey:
        key = store.active_key(conn, DEPLOYMENT)
        assert key is not None, "genesis registers the deployment key"
        return self._private_key(key.key_id)

    def _register(self, conn: Any, head: Head, owner: str, public_key: str, custodial: bool) -> tuple[Head, StoredKey]:
        key_id = key_id_of(public_key_from_b64(public_key))
        payload = {"owner": owner, "key_id": key_id, "public_key": public_key, "custodial": custodial}
        text = payload_text(payload)
        statement = self._statement(KEY_REGISTERED, None, text, self._clock.now_s(), None)
        head, _ = self._sign_and_place(conn, head, statement, text, self._deployment_key(conn))
        key = StoredKey(key_id, owner, public_key, custodial, head.seq, None)
        store.insert_key(conn, key)
        return head, key

    def _checkpoint_due(self, head: Head, now_us: int, force: bool = False) -> bool:
        if head.seq == head.checkpoint_seq:
            return False
        return (
            force
            or head.seq - head.checkpoint_seq >= self._config.checkpoint_every_entries
            or now_us - head.checkpoint_us >= time_us_of(self._config.checkpoint_interval_s)
        )

    def _signed_checkpoint(
        self, conn: Any, head: Head, now_us: int, private_key: Ed25519PrivateKey | None = None
    ) -> Checkpoint:
        private_key = private_key or self._deployment_key(conn)
        key_id = key_id_of(private_key.public_key())
        signature = sign_b64(private_key, checkpoint_bytes(head.seq, head.hash, now_us, key_id))
        return Checkpoint(head.seq, head.hash, now_us, key_id, signature, self._head_note(conn, head.seq, private_key))

    def _maybe_checkpoint(self, conn: Any, head: Head, force: bool = False) -> Checkpoint | None:
        now_us = time_us_of(self._clock.now_s())
        if not self._checkpoint_due(head, now_us, force):
            return None
        checkpoint = self._signed_checkpoint(conn, head, now_us)
        store.insert_checkpoints(conn, [checkpoint_values(checkpoint)])
        return checkpoint

    def _register_custodial(self, conn: Any, head: Head, party_id: str) -> tuple[Head, StoredKey]:
        """A new key pair for ``party_id`` (which has no key), kept here, registered as custodial."""
        private_key = self._keys.generate()
        self._private[key_id_of(private_key.public_key())] = private_key
        return self._register(conn, head, party_id, public_key_b64(private_key.public_key()), True)

    def _admit(self, conn: Any, head: Head, party_id: str) -> Head:
        """Register ``party_id``'s custodial key unless it has a key already (custodial or its own)."""
        if store.active_key(conn, party_id) is None:
            head, _ = self._register_custodial(conn, head, party_id)
        return head

    def _signer(self, conn: Any, head: Head, party_id: str | None) -> tuple[Head, Ed25519PrivateKey]:
        """Who signs ``party_id``'s entries (see the module docstring). A party without a key (never
        admitted in this ledger: see ``admit``) gets its custodial key here, at its first entry."""
        key: StoredKey | None = None
        if party_id is not None:
            key = store.active_key(conn, party_id)
            if key is None:
                head, key = self._register_custodial(conn, head, party_id)
        signer = self._private_key(key.key_id) if key is not None and key.custodial else self._deployment_key(conn)
        return head, signer
