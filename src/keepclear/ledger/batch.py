"""Chaining a batch of drafts: statements, entry hashes, rows and Merkle leaves in one pass.

The hot path of the record (an alert storm is tens of thousands of entries in one transaction), so
it writes the canonical texts of docs/record.md directly instead of building and encoding an
object per entry. That is exact only because every value it writes bare is checked first: kinds
match ``KIND_RE`` and party ids ``PARTY_RE`` (``DraftChecker``), nonces and hashes are lower-case
hex, key ids match ``KEY_ID_RE``: none holds a character JSON escapes. ``verify_document`` recomputes
every hash from the parsed objects, and the tests verify what this writes.

Rows come out as tuples in ``store.ledger.ENTRY_COLUMNS`` order; ``AppendedEntries`` turns them into
``Entry`` objects only when a caller looks at them (the record's signer never does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

from keepclear.errors import ValidationError
from keepclear.ledger.keys import Ed25519PrivateKey, sign_b64
from keepclear.ledger.model import (
    PARTY_RE,
    STATEMENT_VERSION,
    Entry,
    Statement,
    json_string,
    kind_problem,
    payload_text,
    time_us_of,
)
from keepclear.ledger.refs import payload_refs, text_refs
from keepclear.ledger.spec import GENESIS_KIND, KEY_REGISTERED, KEY_ROTATED

#: How many well-formed kinds, party ids and audiences a checker remembers (so a batch does not
#: check each one again); past it, the rest are checked every time.
CACHE_SIZE = 4096

_RESERVED_KINDS = frozenset({GENESIS_KIND, KEY_REGISTERED, KEY_ROTATED})


@dataclass(slots=True)
class EntryDraft:
    """What ``Ledger.append_many`` appends: as ``append``'s arguments (``time_s`` None: now).

    ``text``: the payload's canonical text when the caller has it already (the record's outbox
    stores it); ``payload`` is then not read. ``admits``: a party this entry admits to the
    deployment (the record's ``party.added``): its custodial key is registered before the batch
    when it has none, so a key entry dates the party's admission, not its first action. Not frozen:
    a storm makes tens of thousands, and a frozen dataclass costs three times as much to make.
    """

    kind: str
    party_id: str | None
    payload: Any
    time_s: float | None = None
    audience: list[str] | tuple[str, ...] | frozenset[str] | None = None
    text: str | None = None
    admits: str | None = None


#: A draft found appendable, its payload text and its audience (sorted, without duplicates).
Checked = tuple[EntryDraft, str, tuple[str, ...] | None]


class DraftChecker:
    """Refuses drafts ``append`` would refuse (``ValidationError`` naming the field); remembers what
    passed, up to ``CACHE_SIZE`` of each, so that a storm checks each kind and audience once."""

    def __init__(self) -> None:
        self._kinds: set[str] = set()
        self._parties: set[str] = set()
        self._audiences: dict[Any, tuple[str, ...]] = {}

    def check(self, draft: EntryDraft) -> Checked:
        """The draft's payload text and audience; ``ValidationError`` when ``append`` must refuse it."""
        if draft.kind not in self._kinds:
            self._kind(draft.kind)
        party = draft.party_id
        if party is not None and party not in self._parties:
            self._party(party)
        admits = draft.admits
        if admits is not None and admits not in self._parties:
            self._party(admits)
        members = None if draft.audience is None else self._members(draft.audience)
        text = draft.text
        if text is None:
            try:
                text = payload_text(draft.payload)
            except ValueError as exc:
                raise ValidationError([f"payload: {exc}"]) from None
        return draft, text, members

    def _kind(self, kind: str) -> None:
        if not kind or kind in _RESERVED_KINDS:
            raise ValidationError([f"kind: {kind!r} is reserved for the ledger itself"])
        problem = kind_problem(kind)
        if problem is not None:
            raise ValidationError([f"kind: {kind[:64]!r} is {problem}"])
        if len(self._kinds) < CACHE_SIZE:
            self._kinds.add(kind)

    def _party(self, party: object) -> None:
        if not isinstance(party, str) or not PARTY_RE.match(party):
            raise ValidationError([f"party: {str(party)[:64]!r} is not a party id"])
        if len(self._parties) < CACHE_SIZE:
            self._parties.add(party)

    def _members(self, audience: list[str] | tuple[str, ...] | frozenset[str]) -> tuple[str, ...]:
        key = tuple(audience) if type(audience) is list else audience
        members = self._audiences.get(key)
        if members is None:
            for party in audience:
                if party not in self._parties:
                    self._party(party)
            members = tuple(sorted(set(audience)))
            if len(self._audiences) < CACHE_SIZE:
                self._audiences[key] = members
        return members


@dataclass(slots=True)
class Chained:
    """A batch chained after a head: its rows, its Merkle leaf hashes, the new head's seq and hash."""

    rows: list[tuple[Any, ...]]
    leaves: list[bytes]
    seq: int
    hash: str
    #: ``(ref, time_us, seq)`` of each id the entries' payloads name (``ledger.refs``).
    refs: list[tuple[str, int, int]]


def chain(
    checked: Sequence[Checked],
    seq: int,
    prev: str,
    now_s: float,
    nonces: str,
    signatures: dict[str | None, tuple[str, Ed25519PrivateKey]] | None,
) -> Chained:
    """Chain ``checked`` after the entry ``seq`` of hash ``prev``.

    ``nonces``: 32 hex digits a draft. ``signatures`` None: no entry is signed (the signed tree
    heads vouch for them); else each entry is signed with its party's ``(key_id, private key)``.
    """
    sha256 = hashlib.sha256
    rows: list[tuple[Any, ...]] = []
    leaves: list[bytes] = []
    refs: list[tuple[str, int, int]] = []
    append_row, append_leaf = rows.append, leaves.append
    audiences: dict[tuple[str, ...], tuple[str, str]] = {}
    now_us = time_us_of(now_s)
    key_json = sig_json = "null"
    key_id = signature = None
    for index, (draft, text, members) in enumerate(checked):
        if members is None:
            audience_json, audience_row = "null", None
        else:
            cached = audiences.get(members)
            if cached is None:
                cached = audiences[members] = (
                    "[" + ",".join(f'"{m}"' for m in members) + "]",
                    "\n".join(members),
                )
            audience_json, audience_row = cached
        party = draft.party_id
        party_json = "null" if party is None else f'"{party}"'
        time_us = now_us if draft.time_s is None else time_us_of(draft.time_s)
        payload_sha = sha256(text.encode("utf-8")).hexdigest()
        nonce = nonces[32 * index : 32 * index + 32]
        statement = (
            f'{{"audience":{audience_json},"kind":"{draft.kind}","nonce":"{nonce}",'
            f'"party":{party_json},"payload_sha256":"{payload_sha}",'
            f'"time_us":{time_us},"type":"statement","v":{STATEMENT_VERSION}}}'
        )
        if signatures is not None:
            key_id, private_key = signatures[party]
            signature = sign_b64(private_key, statement.encode("utf-8"))
            key_json, sig_json = json_string(key_id), json_string(signature)
        seq += 1
        digest = sha256(
            f'{{"key":{key_json},"prev":"{prev}","seq":{seq},"sig":{sig_json},'
            f'"statement":{json_string(statement)},"type":"entry"}}'.encode()
        ).digest()
        append_leaf(sha256(b"\x00" + digest).digest())
        entry_hash = digest.hex()
        append_row(
            (
                seq,
                prev,
                entry_hash,
                party,
                draft.kind,
                time_us,
                payload_sha,
                nonce,
                audience_row,
                text,
                key_id,
                signature,
            )
        )
        prev = entry_hash
        # The payload's ids, from the object when the draft has one (the bus's alert changes: no
        # parse), else from the text.
        for ref in payload_refs(draft.payload) if draft.text is None else text_refs(text):
            refs.append((ref, time_us, seq))
    return Chained(rows, leaves, seq, prev, refs)


def entry_of_row(row: tuple[Any, ...]) -> Entry:
    """The ``Entry`` of a row ``chain`` made."""
    seq, prev, _, party, kind, time_us, payload_sha, nonce, audience, text, key_id, signature = row
    members = None if audience is None else tuple(a for a in audience.split("\n") if a)
    return Entry(seq, prev, Statement(party, kind, time_us, payload_sha, nonce, members), text, key_id, signature)


class AppendedEntries(Sequence[Entry]):
    """The entries of a batch, each made from its row when first looked at."""

    def __init__(self, rows: list[tuple[Any, ...]]) -> None:
        self._rows = rows

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> list[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        if isinstance(index, slice):
            return [entry_of_row(row) for row in self._rows[index]]
        return entry_of_row(self._rows[index])

    def __iter__(self) -> Iterator[Entry]:
        return map(entry_of_row, self._rows)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]
