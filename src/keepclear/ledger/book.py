"""The ledger of a deployment: append signed entries, checkpoint the head, rotate keys, export.

Every append goes through ``Database.write()`` with the head row locked, so the chain stays linear
under concurrent writers on SQLite and PostgreSQL.

Who signs an entry:

- the deployment key signs system events (no acting party), key registrations and checkpoints;
- a party in **custodial** mode (the default: its key is made when the party is admitted, by the
  entry that admits it, ``EntryDraft.admits``, and kept in the deployment's key folder) has its
  entries signed with its own key by the deployment. A party the ledger never saw admitted (one of
  a deployment older than admission keys, until ``admit`` registers it) gets its key at its first
  entry instead;
- a party in **strong** mode holds its own key: registered as its first key, or switched to from its
  custodial key by a rotation (``register_public_key``). Its own words reach the ledger as
  submissions it signed client-side (``append_submission``, refused when unsigned or wrongly signed).
  Events the deployment observes about it (e.g. from the bus) are signed with the deployment key,
  so the record says plainly that the deployment, not the party, vouches for them.

Key rotation is an entry: ``key.rotated`` signed by the old key; when the old key of a party is
compromised the deployment signs it instead (``reason: "compromised"``). The deployment's own key
rotates only with a signature of its old key. A rotation keeps the mode, but for a custodial key's
rotation to the party's own key (strong mode); a strong-mode key never becomes custodial.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from keepclear.domain.events import Clock
from keepclear.errors import ForbiddenError, NotFoundError, ValidationError
from keepclear.ledger.batch import AppendedEntries, Checked, DraftChecker, chain
from keepclear.ledger.batch import EntryDraft as EntryDraft  # where callers have always found it
from keepclear.ledger.canonical import b64encode, sha256_hex
from keepclear.ledger.client import Submission, parse_submission
from keepclear.ledger.keys import (
    Ed25519PrivateKey,
    KeyFolder,
    key_id_of,
    public_key_b64,
    public_key_from_b64,
    sign_b64,
    signature_valid,
)
from keepclear.ledger.merkle import BLOCK_LEVEL, leaf_hash
from keepclear.ledger.model import (
    DEPLOYMENT,
    PARTY_RE,
    Checkpoint,
    Entry,
    Statement,
    checkpoint_bytes,
    payload_text,
    placeholder_of,
    time_us_of,
)
from keepclear.ledger.note import COSIGNATURE, TreeHead, key_hash, origin_of, parse_note, sign_head, vkey
from keepclear.ledger.spec import (
    EXPORT_FORMAT,
    EXPORT_VERSION,
    GENESIS_KIND,
    KEY_REGISTERED,
    KEY_ROTATED,
    ROTATED_FIELDS,
    payload_readable,
)
from keepclear.ledger.tlog import LogTree, log_keys, signed_head
from keepclear.store import ledger as store
from keepclear.store.database import Database
from keepclear.store.ledger import Head, StoredKey


def witness_name(party_id: str) -> str:
    """The name a party's witness cosignatures carry (signed-note key name)."""
    return f"keepclear.witness/{party_id}"


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
    """

    checkpoint_every_entries: int = 100
    checkpoint_interval_s: float = 600.0
    submission_skew_s: float = 300.0
    entry_signatures: str = "batch"
    tree_block_level: int = BLOCK_LEVEL


class Ledger:
    """The append-only signed log of one deployment (see the module docstring)."""

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
        self._tlog = LogTree(self._config.tree_block_level)

    # -- transparency log ------------------------------------------------------------------
    @property
    def tree_leaves(self) -> int:
        """Leaves of the Merkle tree: every entry of the ledger once the tree was built (0 before)."""
        return self._tlog.leaves

    @property
    def tree_bytes(self) -> int:
        """Bytes of hashes the Merkle tree holds in memory: 64 for every 2^``tree_block_level``
        entries, and at most 64 · 2^``tree_block_level`` for the last block."""
        return self._tlog.bytes_held

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
        store.insert_entry_rows(conn, [row])
        return head, entry

    def _chained(
        self, head: Head, statement: Statement, text: str, key_id: str | None, signature: str | None
    ) -> tuple[Head, Entry, tuple[Any, ...]]:
        """The entry that follows ``head``, its row, the head after it; its leaf joins the tree."""
        head, entry, row = _chained(head, statement, text, key_id, signature)
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
        store.insert_checkpoints(conn, [_checkpoint_values(checkpoint)])
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

    # -- public API ------------------------------------------------------------------------
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
        store.insert_entry_rows(conn, chained.rows)
        store.insert_checkpoints(conn, [_checkpoint_values(c) for c in checkpoints])
        return AppendedEntries(chained.rows)

    def register_public_key(self, party_id: str, public_key: str) -> str:
        """Put ``party_id`` in strong mode with its own public key (raw, base64); returns the key id.

        A party in custodial mode (every party since keys are registered at admission) switches by a
        rotation: ``key.rotated`` from its custodial key to ``public_key``, ``custodial: false``,
        ``reason: "scheduled"``, signed with the custodial key, which is then discarded. A party with
        no key yet (never admitted here) gets ``public_key`` registered as its first key. Refused when
        the party is in strong mode already: it rotates by submitting ``key.rotated`` signed with its key.
        """
        try:
            new_id = key_id_of(public_key_from_b64(public_key))
        except ValueError as exc:
            raise ValidationError([str(exc)]) from None
        if party_id == DEPLOYMENT:
            raise ValidationError([f"party: {DEPLOYMENT} is the deployment, whose key is always custodial"])
        with self._write() as conn:
            head = self._head(conn)
            existing = store.active_key(conn, party_id)
            if existing is None:
                head, key = self._register(conn, head, party_id, public_key, custodial=False)
                self._maybe_checkpoint(conn, head)
                return key.key_id
            if not existing.custodial:
                raise ValidationError(
                    [f"party {party_id}: already in strong mode with key {existing.key_id}; rotate it instead"]
                )
            head = self._rotate(conn, head, existing, new_id, public_key, custodial=False, compromised=False)
            self._maybe_checkpoint(conn, head)
        self._private.pop(existing.key_id, None)
        self._keys.discard(existing.key_id)
        return new_id

    def admit(self, party_ids: Iterable[str]) -> list[str]:
        """Register a custodial key, in this order and in one transaction, for each of ``party_ids``
        that has no key yet; returns the parties registered.

        For parties of a deployment older than admission keys, which joined before their admission
        registered one: the record's signer calls it at the service's start with every party, so their
        key entries date the upgrade, not their first action. Writes nothing when every party has a key.
        """
        parties = list(dict.fromkeys(party_ids))
        for party_id in parties:
            if not PARTY_RE.match(party_id):
                raise ValidationError([f"party: {party_id[:64]!r} is not a party id"])
        with self._db.read() as conn:
            missing = [p for p in parties if store.active_key(conn, p) is None]
        if not missing:
            return []
        admitted = []
        with self._write() as conn:
            head = self._head(conn)
            for party_id in missing:
                if store.active_key(conn, party_id) is None:  # another process may have been first
                    head, _ = self._register_custodial(conn, head, party_id)
                    admitted.append(party_id)
            self._maybe_checkpoint(conn, head)
        return admitted

    def mode(self, party_id: str) -> str | None:
        """``custodial``, ``strong``, or None when the party has no key yet."""
        with self._db.read() as conn:
            key = store.active_key(conn, party_id)
        return None if key is None else ("custodial" if key.custodial else "strong")

    def verify_submission(self, submission: Submission) -> None:
        """Refuse (``SignatureRefused``) a submission that strong mode must not accept.

        Checks: the party is in strong mode, the key is its current key, the signature verifies over
        the statement, the payload matches its hash (done by ``parse_submission``), the time is within
        ``submission_skew_s`` of the deployment clock, and the nonce was never used.
        """
        statement = submission.statement
        party_id = statement.party_id
        with self._db.read() as conn:
            key = store.active_key(conn, party_id) if party_id is not None else None
            replayed = store.nonce_used(conn, statement.nonce)
        if key is None or key.custodial:
            raise SignatureRefused(f"party {party_id}: not in strong mode (no registered public key)")
        if submission.key_id != key.key_id:
            raise SignatureRefused(f"key {submission.key_id}: not the current key of {party_id} ({key.key_id})")
        if not signature_valid(public_key_from_b64(key.public_key), statement.to_bytes(), submission.signature):
            raise SignatureRefused(f"sig: does not verify with {party_id}'s key {key.key_id}")
        skew_us = abs(statement.time_us - time_us_of(self._clock.now_s()))
        if skew_us > time_us_of(self._config.submission_skew_s):
            raise SignatureRefused(
                f"statement.time_us: {skew_us / 1e6:.0f} s from the deployment clock"
                f" (more than {self._config.submission_skew_s:g} s)"
            )
        if replayed:
            raise SignatureRefused(f"statement.nonce: {statement.nonce} was already used (replay)")

    def check_request(self, party_id: str, kind: str, payload: Any, submission: Any) -> Submission | None:
        """What the API calls before acting on a party's request (``submission``: the wire JSON or None).

        A party in strong mode must send the submission it signed over exactly this request: same
        party, same ``kind``, and a payload whose canonical form equals the request's. Refused
        (``SignatureRefused``) when missing, malformed, mismatched or not verifying; returns the
        verified submission, to be appended with ``append_submission`` once the request succeeded.
        For a custodial party returns None (the deployment signs for it).
        """
        if self.mode(party_id) != "strong":
            return None
        if submission is None:
            raise SignatureRefused(f"party {party_id} is in strong mode: the request must carry its signed submission")
        try:
            parsed = parse_submission(submission)
            expected = payload_text(payload)
        except ValueError as exc:
            raise SignatureRefused(f"submission: {exc}") from None
        if parsed.statement.party_id != party_id or parsed.statement.kind != kind or parsed.payload != expected:
            raise SignatureRefused("submission: signed for another party, kind or payload than this request")
        self.verify_submission(parsed)
        return parsed

    def append_submission(self, submission: Submission) -> Entry:
        """Verify a party-signed submission and append it as signed (a ``key.rotated`` one rotates)."""
        self.verify_submission(submission)
        statement = submission.statement
        if statement.kind in (GENESIS_KIND, KEY_REGISTERED):
            raise SignatureRefused(f"kind: {statement.kind!r} cannot be submitted")
        with self._write() as conn:
            head = self._head(conn)
            if store.nonce_used(conn, statement.nonce):
                raise SignatureRefused(f"statement.nonce: {statement.nonce} was already used (replay)")
            current = store.active_key(conn, statement.party_id or "")
            if current is None or current.key_id != submission.key_id:
                raise SignatureRefused(f"key {submission.key_id}: no longer the current key")
            new_key = None
            if statement.kind == KEY_ROTATED:
                new_key = self._rotation_key(submission.payload, current, custodial=False)
            head, entry = self._place(
                conn, head, statement, submission.payload, submission.key_id, submission.signature
            )
            if new_key is not None:
                store.retire_key(conn, current.key_id, head.seq)
                store.insert_key(
                    conn, StoredKey(new_key.key_id, new_key.owner, new_key.public_key, False, head.seq, None)
                )
            self._maybe_checkpoint(conn, head)
            return entry

    @staticmethod
    def _rotation_key(text: str, current: StoredKey, *, custodial: bool) -> StoredKey:
        payload = json.loads(text)
        problems = []
        if not isinstance(payload, dict) or set(payload) != ROTATED_FIELDS:
            raise SignatureRefused(f"payload: a key.rotated payload has exactly the fields {sorted(ROTATED_FIELDS)}")
        if payload.get("custodial") is not custodial:
            problems.append(f"payload.custodial: must be {str(custodial).lower()}")
        if payload.get("reason") != "scheduled":
            problems.append('payload.reason: must be "scheduled" (signed with the old key)')
        if payload.get("owner") != current.owner:
            problems.append(f"payload.owner: must be {current.owner}")
        if payload.get("old_key") != current.key_id:
            problems.append(f"payload.old_key: must be {current.key_id}")
        try:
            new_id = key_id_of(public_key_from_b64(str(payload.get("public_key")), "payload.public_key"))
        except ValueError as exc:
            raise SignatureRefused(str(exc)) from None
        if payload.get("new_key") != new_id:
            problems.append(f"payload.new_key: must be {new_id}")
        if problems:
            raise SignatureRefused("; ".join(problems))
        return StoredKey(new_id, current.owner, payload["public_key"], custodial, 0, None)

    def rotate_key(self, owner: str, *, compromised: bool = False, new_public_key: str | None = None) -> str:
        """Rotate the key of ``owner`` (a party id, or ``@deployment``); returns the new key id.

        Custodial keys: a new key is generated and held here. A strong-mode party rotates by submitting
        a ``key.rotated`` statement signed with its old key; only when that key is ``compromised`` may
        the deployment record the rotation to ``new_public_key`` (which the party gave out of band).
        """
        with self._write() as conn:
            head = self._head(conn)
            current = store.active_key(conn, owner)
            if current is None:
                raise ValidationError([f"owner: {owner} has no key to rotate"])
            if compromised and owner == DEPLOYMENT:
                raise ValidationError(["compromised: the deployment key rotates only with its old key"])
            if not current.custodial and not compromised:
                raise ValidationError(
                    [f"owner: {owner} is in strong mode; it submits its rotation signed with its old key"]
                )
            if new_public_key is None:
                if not current.custodial:
                    raise ValidationError(["new_public_key: required for a strong-mode party"])
                private_key = self._keys.generate()
                self._private[key_id_of(private_key.public_key())] = private_key
                new_public_key = public_key_b64(private_key.public_key())
            try:
                new_id = key_id_of(public_key_from_b64(new_public_key, "new_public_key"))
            except ValueError as exc:
                raise ValidationError([str(exc)]) from None
            head = self._rotate(
                conn, head, current, new_id, new_public_key, custodial=current.custodial, compromised=compromised
            )
            self._maybe_checkpoint(conn, head, force=owner == DEPLOYMENT)
        if current.custodial:
            self._private.pop(current.key_id, None)
            self._keys.discard(current.key_id)
        return new_id

    def _rotate(
        self,
        conn: Any,
        head: Head,
        current: StoredKey,
        new_id: str,
        new_public_key: str,
        *,
        custodial: bool,
        compromised: bool,
    ) -> Head:
        """Append ``current``'s ``key.rotated`` to ``new_public_key`` and make that key the owner's.

        Signed by the old key (``scheduled``; statement party = the owner, none for the deployment) or
        by the deployment key (``compromised``), as docs/record.md's rotation rules require.
        ``custodial``: the new key's mode (the old key's, or false for a custodial party's own key).
        """
        owner = current.owner
        payload = {
            "owner": owner,
            "old_key": current.key_id,
            "new_key": new_id,
            "public_key": new_public_key,
            "custodial": custodial,
            "reason": "compromised" if compromised else "scheduled",
        }
        text = payload_text(payload)
        party_id = None if compromised or owner == DEPLOYMENT else owner
        signer = self._deployment_key(conn) if compromised else self._private_key(current.key_id)
        statement = self._statement(KEY_ROTATED, party_id, text, self._clock.now_s(), None)
        head, _ = self._sign_and_place(conn, head, statement, text, signer)
        store.retire_key(conn, current.key_id, head.seq)
        store.insert_key(conn, StoredKey(new_id, owner, new_public_key, custodial, head.seq, None))
        return head

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head now (None when the last checkpoint already covers it).

        A last checkpoint stored before the transparency log gets its signed tree head here.
        """
        with self._write() as conn:
            head = self._head(conn)
            checkpoint = self._maybe_checkpoint(conn, head, force=True)
            last = store.last_checkpoint(conn)
            if checkpoint is None and last is not None and last.note is None:
                key = self._private_key(last.key_id) if self._keys.has(last.key_id) else self._deployment_key(conn)
                if key_id_of(key.public_key()) == last.key_id:
                    store.set_checkpoint_note(conn, last.seq, self._head_note(conn, last.seq, key))
                else:  # the key that signed it is gone: sign the same head anew
                    store.delete_checkpoint(conn, last.seq)
                    checkpoint = self._maybe_checkpoint(conn, Head(head.seq, head.hash, 0, 0), force=True)
            return checkpoint

    def latest_head(self) -> Checkpoint:
        """The latest checkpoint (signed tree head), signing the current head first when needed."""
        self.checkpoint()
        with self._db.read() as conn:
            row = store.last_checkpoint(conn)
        assert row is not None
        return _checkpoint_from_row(row)

    def heads(self) -> list[Checkpoint]:
        """Every checkpoint with its signed tree head, oldest first."""
        with self._db.read() as conn:
            return [_checkpoint_from_row(row) for row in store.list_checkpoints(conn)]

    def deployment_vkeys(self) -> list[str]:
        """The signed-note verifier keys of every deployment key (oldest first), named by the origin."""
        with self._db.read() as conn:
            return log_keys(conn, self._origin_of(conn))

    def inclusion_proof(
        self, seq: int, *, tree_size: int | None = None, for_party: str | None = None
    ) -> dict[str, Any]:
        """Proof that entry ``seq`` is in the tree of a signed head (default: the latest).

        With ``for_party``, an entry whose payload that party may not read does not exist for it
        (``NotFoundError``): a party proves only what it may see.
        """
        size = self.latest_head().seq if tree_size is None else tree_size
        with self._tlog.lock, self._db.read() as conn:
            row = store.entry_at(conn, seq)
            entry = None if row is None else _entry_from_row(row)
            if entry is None or (for_party is not None and not payload_readable(entry.statement, for_party)):
                raise NotFoundError(f"entry {seq}: no such entry")
            return self._tlog.inclusion(conn, entry, size, self._origin_of(conn))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> dict[str, Any]:
        """Proof that the signed head of ``old_size`` is a prefix of that of ``new_size`` (default: latest)."""
        new = self.latest_head().seq if new_size is None else new_size
        if not 1 <= old_size <= new:
            raise ValidationError([f"old: tree size {old_size} is not between 1 and {new}"])
        with self._tlog.lock, self._db.read() as conn:
            return self._tlog.consistency(conn, old_size, new, self._origin_of(conn))

    def custodial_key(self, party_id: str, *, create: bool = False) -> Ed25519PrivateKey:
        """The private key this deployment holds for a custodial party (``ValidationError`` otherwise).

        With ``create``, a party without a key yet (never admitted here: see ``admit``) gets its
        custodial key now, as its first entry would.
        """
        with self._db.read() as conn:
            key = store.active_key(conn, party_id)
        if key is None and create:
            with self._write() as conn:
                head, private_key = self._signer(conn, self._head(conn), party_id)
                self._maybe_checkpoint(conn, head)
            return private_key
        if key is None or not key.custodial:
            raise ValidationError([f"party {party_id}: no custodial key here (strong mode: give its own key)"])
        return self._private_key(key.key_id)

    def add_cosignature(self, party_id: str, cosigned_note: str) -> int:
        """Record ``party_id``'s witness cosignature of one of this log's signed heads; returns its size.

        ``cosigned_note`` is the head as the log signed it with the party's ``cosignature/v1`` line
        (name ``witness_name(party_id)``, the party's current ledger key) added. Refused when the head
        is not the one this log signed at that size (``ValidationError``) or the cosignature does not
        verify (``SignatureRefused``). A second cosignature of the same head by the party is ignored.
        """
        try:
            note = parse_note(cosigned_note)
        except ValueError as exc:
            raise ValidationError([f"note: {exc}"]) from None
        name = witness_name(party_id)
        with self._write() as conn:
            row = store.checkpoint_at(conn, note.head.size)
            if row is None or row.note is None or parse_note(row.note).text != note.text:
                raise ValidationError([f"note: not the head this log signed at tree size {note.head.size}"])
            key = store.active_key(conn, party_id)
            public_key = None if key is None else public_key_from_b64(key.public_key)
            timestamp = None if public_key is None else note.cosigned_by(name, public_key)
            if public_key is None or timestamp is None:
                raise SignatureRefused(f"note: no valid cosignature/v1 line of {name} with {party_id}'s current key")
            line = next(
                f"\u2014 {line.name} {b64encode(line.key_hash + line.signature)}"
                for line in note.signatures
                if line.name == name and line.key_hash == key_hash(name, public_key, COSIGNATURE)
            )
            store.insert_cosignature(
                conn, note.head.size, party_id, vkey(name, public_key), line, timestamp * 1_000_000
            )
        return note.head.size

    def cosignatures(self, tree_size: int | None = None) -> tuple[Checkpoint, dict[str, str]]:
        """A signed head (default: the largest any party cosigned, else the latest) and its cosignature
        lines by party."""
        if tree_size is None:
            with self._db.read() as conn:
                rows = store.list_cosignatures(conn)
            tree_size = rows[-1].tree_size if rows else self.latest_head().seq
        with self._db.read() as conn:
            row = signed_head(conn, tree_size)
            lines = {c.party_id: c.line for c in store.list_cosignatures(conn, row.seq)}
        return _checkpoint_from_row(row), lines

    def consistency_hashes(self, old_size: int, new_size: int) -> list[bytes]:
        """The RFC 9162 consistency proof between any two sizes of the tree (signed heads or not): what a
        witness checks against the head it holds itself."""
        with self._tlog.lock, self._db.read() as conn:
            return self._tlog.consistency_hashes(conn, old_size, new_size)

    def entries(
        self,
        *,
        from_seq: int = 1,
        kinds_prefix: tuple[str, ...] = (),
        kinds: Collection[str] = (),
        from_s: float | None = None,
        until_s: float | None = None,
    ) -> list[Entry]:
        """Stored entries in seq order (with payloads), optionally filtered by kind (prefix or
        exact ``kinds``) and time."""
        with self._db.read() as conn:
            rows = store.list_entries(
                conn,
                from_seq=from_seq,
                kinds_prefix=kinds_prefix,
                kinds=kinds,
                from_us=None if from_s is None else time_us_of(from_s),
                until_us=None if until_s is None else time_us_of(until_s),
            )
        return [_entry_from_row(row) for row in rows]

    def export_document(self, *, for_party: str | None = None) -> dict[str, Any]:
        """A self-contained, versioned export: entries, public keys, rotations and checkpoints.

        The head is checkpointed first. With ``for_party``, an entry that party may not read
        (``payload_readable``: the audience rule) is a placeholder: its seq, prev and hash, which keep
        the chain and the tree whole without saying who did what with whom, or when.
        """
        self.checkpoint()
        with self._db.read() as conn:
            checkpoints = [_checkpoint_from_row(row) for row in store.list_checkpoints(conn)]
            covered = checkpoints[-1].seq if checkpoints else 0
            rows = [row for row in store.list_entries(conn) if row.seq <= covered]
            keys = [k for k in store.list_keys(conn) if k.from_seq <= covered]
        rotations = []
        out_entries = []
        for row in rows:
            entry = _entry_from_row(row)
            s = entry.statement
            visible = payload_readable(s, for_party)
            out_entries.append(entry.to_json() if visible else placeholder_of(entry, row.hash).to_json())
            if s.kind == KEY_ROTATED:
                p = entry.payload_value()
                rotations.append(
                    {
                        "seq": entry.seq,
                        "owner": p["owner"],
                        "old_key": p["old_key"],
                        "new_key": p["new_key"],
                        "reason": p["reason"],
                    }
                )
        return {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_us": time_us_of(self._clock.now_s()),
            "for_party": for_party,
            "keys": [
                {
                    "key_id": k.key_id,
                    "owner": k.owner,
                    "public_key": k.public_key,
                    "custodial": k.custodial,
                    "from_seq": k.from_seq,
                    "until_seq": k.until_seq if k.until_seq is not None and k.until_seq <= covered else None,
                }
                for k in keys
            ],
            "rotations": rotations,
            "entries": out_entries,
            "checkpoints": [c.to_json() for c in checkpoints],
        }


def _chained(
    head: Head, statement: Statement, text: str, key_id: str | None, signature: str | None
) -> tuple[Head, Entry, tuple[Any, ...]]:
    """The entry that follows ``head``, its row, and the head after it (nothing is written)."""
    entry = Entry(head.seq + 1, head.hash, statement, text, key_id, signature)
    entry_hash = entry.hash()
    return Head(entry.seq, entry_hash, head.checkpoint_seq, head.checkpoint_us), entry, _entry_row(entry, entry_hash)


def _checkpoint_values(checkpoint: Checkpoint) -> tuple[int, str, int, str, str, str | None]:
    c = checkpoint
    return c.seq, c.head_hash, c.time_us, c.key_id, c.signature, c.note


def _entry_row(entry: Entry, entry_hash: str) -> tuple[Any, ...]:
    """The row of ``entry`` (``store.ledger.ENTRY_COLUMNS`` order)."""
    s = entry.statement
    audience = None if s.audience is None else "\n".join(s.audience)
    return (
        entry.seq,
        entry.prev_hash,
        entry_hash,
        s.party_id,
        s.kind,
        s.time_us,
        s.payload_sha256,
        s.nonce,
        audience,
        entry.payload,
        entry.key_id,
        entry.signature,
    )


def _entry_from_row(row: Any) -> Entry:
    audience = None if row.audience is None else tuple(a for a in row.audience.split("\n") if a)
    statement = Statement(row.party_id, row.kind, row.time_us, row.payload_sha256, row.nonce, audience)
    return Entry(row.seq, row.prev_hash, statement, row.payload, row.key_id, row.signature)


def _checkpoint_from_row(row: Any) -> Checkpoint:
    return Checkpoint(row.seq, row.head_hash, row.time_us, row.key_id, row.signature, row.note)
