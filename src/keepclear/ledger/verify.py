"""Offline verification of an exported ledger: every hash, every signature, the key history.

Needs nothing but the file and ``cryptography``. The chain is replayed from the genesis entry, which
carries the deployment's first public key (compare its id with the one the deployment published);
``key.registered`` and ``key.rotated`` entries then say which key may sign for whom from where on.
Verification stops at the first problem and names the entry (index in the file and seq).

A party's export (version 2 on) holds a placeholder (seq, prev, hash) for each entry the party may
not read: its link and its leaf are checked like any entry's, its signature is left to the parties
that may read it (docs/record.md, "Placeholders"). Version 3 adds one rule: a party's key may rotate
from custodial to the party's own; in a version 1 or 2 export every rotation keeps the mode. Version 1
exports, which carried every statement and withheld only payloads, still verify under their own rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepclear.domain.event_kinds import EventKind
from keepclear.errors import KeepclearError
from keepclear.ledger.canonical import sha256_hex, strict_json
from keepclear.ledger.keys import Ed25519PublicKey, key_id_of, public_key_from_b64, signature_valid
from keepclear.ledger.merkle import MerkleTree, leaf_hash
from keepclear.ledger.model import (
    DEPLOYMENT,
    GENESIS_PREV,
    INT_LIMIT,
    PARTY_RE,
    Checkpoint,
    Entry,
    Placeholder,
    Statement,
    checkpoint_from_json,
    entry_from_json,
    placeholder_from_json,
)
from keepclear.ledger.note import origin_of, parse_note

EXPORT_FORMAT = "keepclear-ledger"
EXPORT_VERSION = 3
#: Export versions this verifier reads: 1 (a party's export withheld payloads only), 2 (placeholders)
#: and 3 (a party's key may rotate from custodial to its own).
READ_VERSIONS = (1, 2, 3)
#: The first export version in which a rotation may change a key's mode (custodial to the party's own).
MODE_SWITCH_VERSION = 3
INCLUSION_FORMAT = "keepclear-inclusion-proof"
CONSISTENCY_FORMAT = "keepclear-consistency-proof"
PROOF_VERSION = 1

GENESIS_KIND = EventKind.LEDGER_GENESIS
KEY_REGISTERED = EventKind.KEY_REGISTERED
KEY_ROTATED = EventKind.KEY_ROTATED
EXPORT_FIELDS = frozenset(
    {"format", "version", "exported_us", "for_party", "keys", "rotations", "entries", "checkpoints"}
)
GENESIS_FIELDS = frozenset({"owner", "key_id", "public_key", "custodial", "format"})
REGISTERED_FIELDS = frozenset({"owner", "key_id", "public_key", "custodial"})
ROTATED_FIELDS = frozenset({"owner", "old_key", "new_key", "public_key", "custodial", "reason"})
#: Kinds whose payload is never redacted: every verifier needs them to know the keys.
PUBLIC_KINDS = frozenset({GENESIS_KIND, KEY_REGISTERED, KEY_ROTATED})


def payload_readable(statement: Statement, party_id: str | None) -> bool:
    """May ``party_id`` (None: the operator) read an entry with ``statement`` (statement and payload)?

    Only when the entry's audience names it (or names nobody: everyone), or for the key entries
    every verifier needs. Who signed does not matter: keepclear signs views meant for others too
    (an ``activity.conflict`` view for the overlapped party carries the notifier as its party).
    This is the record's need-to-know rule; ``services.policy.entry_readable`` is this function.
    """
    audience = statement.audience
    return party_id is None or statement.kind in PUBLIC_KINDS or audience is None or party_id in audience


class ExportFileError(KeepclearError):
    """An export file that cannot be read as a ledger export (the message is one line)."""


@dataclass
class KeyRecord:
    """One public key as the chain declares it."""

    key_id: str
    owner: str
    public_key_b64: str
    public_key: Ed25519PublicKey
    custodial: bool
    from_seq: int
    until_seq: int | None = None

    def valid_for_entry(self, seq: int) -> bool:
        """May this key sign entry ``seq``? After the entry that introduced it (genesis: itself),
        up to and including the entry that rotated it away."""
        after_start = seq > self.from_seq or (seq == 1 and self.from_seq == 1)
        return after_start and (self.until_seq is None or seq <= self.until_seq)

    def valid_for_checkpoint(self, seq: int) -> bool:
        """May this key sign a checkpoint of seq ``seq``? From its introducing entry on, until the
        entry that rotated it away (excluded: that head is signed by the new key)."""
        return self.from_seq <= seq and (self.until_seq is None or seq < self.until_seq)


@dataclass
class VerifyReport:
    """The outcome: ``problem`` is None when everything checks."""

    problem: str | None
    at: str | None = None
    version: int = EXPORT_VERSION
    entries: int = 0
    checkpoints: int = 0
    #: What the reader does not see: withheld payloads (version 1) or placeholders (version 2 on).
    redacted: int = 0
    party_signed: int = 0
    deployment_signed: int = 0
    head_vouched: int = 0
    genesis_key_id: str | None = None
    head_hash: str | None = None
    tree_heads: int = 0
    root_hash: str | None = None
    origin: str | None = None
    keys: list[KeyRecord] = field(default_factory=list)
    hashes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was wrong."""
        return self.problem is None

    def summary(self) -> str:
        """One line for people."""
        if self.problem is not None:
            return f"BAD: {self.problem}"
        return (
            f"OK: {self.entries} entries, {self.checkpoints} checkpoints ({self.tree_heads} signed tree heads),"
            f" head {self.head_hash}, tree root {self.root_hash}; "
            f"{self.party_signed} signed by the actor's own key, {self.deployment_signed} vouched for by the"
            f" deployment on a strong-mode party's behalf, {self.head_vouched} by the deployment's signed tree"
            f" heads alone; "
            f"{self._withheld()}; genesis key {self.genesis_key_id}"
        )

    def _withheld(self) -> str:
        if self.version == 1:
            return f"{self.redacted} payloads withheld (hash verified)"
        return f"{self.redacted} entries withheld (placeholders: seq and hash only, covered by the signed heads)"


def load_export(path: Path) -> dict[str, Any]:
    """Read an export file; ``ExportFileError`` with one clear line when it is not a usable one."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ExportFileError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_export(raw, str(path))


def parse_export(raw: bytes, name: str) -> dict[str, Any]:
    """Decode export bytes; ``ExportFileError`` naming ``name`` when they are not a known export."""
    if not raw.strip():
        raise ExportFileError(f"{name}: empty file, not a ledger export")
    try:
        text = raw.decode("utf-8")
        document = json.loads(text)
    except UnicodeDecodeError:
        raise ExportFileError(f"{name}: not UTF-8 text, not a ledger export") from None
    except json.JSONDecodeError as exc:
        ended = exc.msg.startswith("Unterminated") or exc.pos >= len(text.rstrip())
        hint = " (the file looks truncated)" if ended and text.lstrip().startswith(("{", "[")) else ""
        raise ExportFileError(f"{name}: not JSON at line {exc.lineno} column {exc.colno}: {exc.msg}{hint}") from None
    if not isinstance(document, dict) or document.get("format") != EXPORT_FORMAT:
        raise ExportFileError(f'{name}: not a keepclear ledger export (no "format": "{EXPORT_FORMAT}")')
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in READ_VERSIONS:
        raise ExportFileError(
            f"{name}: unknown export version {version!r}; this keepclear reads versions"
            f" {', '.join(map(str, READ_VERSIONS))}"
        )
    for name_ in ("entries", "checkpoints", "keys"):
        if not isinstance(document.get(name_), list):
            raise ExportFileError(f"{name}: field {name_!r} is missing or not a list")
    return document


class _Bad(Exception):
    """The first problem, and where it is: a JSON Pointer (RFC 6901) into the export."""

    def __init__(self, message: str, at: str) -> None:
        super().__init__(message)
        self.at = at


def _where(index: int, entry: Entry | Placeholder | None) -> str:
    if isinstance(entry, Placeholder):
        return f"entry #{index} (seq {entry.seq}, withheld)"
    return f"entry #{index}" + (f" (seq {entry.seq}, {entry.statement.kind})" if entry is not None else "")


def verify_document(document: dict[str, Any]) -> VerifyReport:
    """Check an export exactly as docs/record.md specifies, in its order; the first problem wins."""
    report = VerifyReport(problem=None)
    try:
        _verify(document, report)
    except _Bad as bad:
        report.problem = str(bad)
        report.at = bad.at
    return report


def _top_level(document: dict[str, Any]) -> str | None:
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in READ_VERSIONS:
        raise _Bad(f"unknown export version {version!r}", "")
    if set(document) != EXPORT_FIELDS:
        missing, extra = sorted(EXPORT_FIELDS - set(document)), sorted(set(document) - EXPORT_FIELDS)
        raise _Bad(f"the file's fields differ from the spec (missing {missing}, unknown {extra})", "")
    exported = document["exported_us"]
    if not isinstance(exported, int) or isinstance(exported, bool) or not 0 <= exported < INT_LIMIT:
        raise _Bad("exported_us: not an integer from 0 to 2**63 - 1", "/exported_us")
    for_party = document["for_party"]
    if for_party is not None and (not isinstance(for_party, str) or not PARTY_RE.match(for_party)):
        raise _Bad("for_party: not a party id or null", "/for_party")
    for name in ("keys", "rotations", "entries", "checkpoints"):
        if not isinstance(document[name], list):
            raise _Bad(f"{name}: not a list", f"/{name}")
    return for_party


def _verify(document: dict[str, Any], report: VerifyReport) -> None:
    for_party = _top_level(document)
    report.version = version = document["version"]
    keys: dict[str, KeyRecord] = {}
    active: dict[str, str] = {}  # owner -> key id
    nonces: dict[str, int] = {}
    hashes: list[str] = []
    rotations: list[dict[str, Any]] = []
    prev = GENESIS_PREV
    for index, raw in enumerate(document["entries"]):
        at = f"/entries/{index}"
        try:
            opaque = version >= 2 and isinstance(raw, dict) and "hash" in raw
            element = (placeholder_from_json if opaque else entry_from_json)(raw, f"entry #{index}")
        except ValueError as exc:
            raise _Bad(str(exc), at) from None
        where = _where(index, element)
        if element.seq != index + 1:
            raise _Bad(f"{where}: expected seq {index + 1} (an entry is missing, extra or out of order)", at)
        if element.prev_hash != prev:
            before = "64 zeros" if index == 0 else f"the hash of entry #{index - 1}"
            raise _Bad(
                f"{where}: previous-hash link broken: prev is not {before}"
                " (that entry or this one was changed, dropped or moved)",
                at,
            )
        if isinstance(element, Placeholder):
            _placeholder(element, index, for_party, where, at)
            report.redacted += 1
            prev = element.hash()
            hashes.append(prev)
            continue
        entry = element
        statement = entry.statement
        report.redacted += _presence(entry, version, for_party, where, at)
        payload = _payload(entry, where, at)
        if statement.nonce in nonces:
            raise _Bad(f"{where}: statement replayed (same nonce as seq {nonces[statement.nonce]})", at)
        nonces[statement.nonce] = entry.seq
        if index == 0:
            _genesis(entry, payload, where, at, keys, active)
            report.genesis_key_id = entry.key_id
        elif statement.kind == GENESIS_KIND:
            raise _Bad(f"{where}: a second genesis entry", at)
        if entry.key_id is None:
            if statement.kind in PUBLIC_KINDS:
                raise _Bad(f"{where}: key entries carry their own signature", at)
            report.head_vouched += 1
            prev = entry.hash()
            hashes.append(prev)
            continue
        signer = keys.get(entry.key_id)
        if signer is None:
            raise _Bad(f"{where}: signed with unknown key {entry.key_id}", at)
        if not signer.valid_for_entry(entry.seq) or active.get(signer.owner) != signer.key_id:
            raise _Bad(
                f"{where}: signed with key {entry.key_id} of {signer.owner}, which was not valid at this seq (no longer valid, or not yet)",
                at,
            )
        expected_owner = statement.signer_owner
        if signer.owner not in (expected_owner, DEPLOYMENT):
            raise _Bad(f"{where}: signed with key {entry.key_id} of {signer.owner}, not of {expected_owner}", at)
        if not signature_valid(signer.public_key, statement.to_bytes(), entry.signature or ""):
            raise _Bad(f"{where}: signature does not verify with key {entry.key_id} ({signer.owner})", at)
        if statement.kind == KEY_REGISTERED:
            _registered(entry, payload, signer, where, at, keys, active)
        elif statement.kind == KEY_ROTATED:
            rotations.append(_rotated(entry, payload, signer, version, where, at, keys, active))
        if signer.owner == DEPLOYMENT and expected_owner != DEPLOYMENT:
            report.deployment_signed += 1
        else:
            report.party_signed += 1
        prev = entry.hash()
        hashes.append(prev)
    report.entries = len(hashes)
    report.hashes = hashes
    report.head_hash = hashes[-1] if hashes else None
    if not hashes:
        raise _Bad("the export holds no entries", "/entries")
    assert report.genesis_key_id is not None
    _checkpoints(document["checkpoints"], hashes, keys, report, origin_of(report.genesis_key_id))
    _listed_keys(document["keys"], keys)
    _listed_rotations(document["rotations"], rotations)
    report.keys = list(keys.values())


def _presence(entry: Entry, version: int, for_party: str | None, where: str, at: str) -> int:
    """Check that ``entry`` may be in ``for_party``'s export as it is (docs/record.md, "Payloads and
    need-to-know"; version 1: payloads withheld); 1 when its payload is withheld, else 0."""
    statement = entry.statement
    readable = payload_readable(statement, for_party)
    if version >= 2:
        if not readable:
            raise _Bad(
                f"{where}: the statement of an entry outside {for_party}'s audience"
                " (its export holds a placeholder there: seq, prev and hash only)",
                at,
            )
        if entry.payload is None:
            raise _Bad(
                f"{where}: payload withheld (an export of version 2 on carries every payload its reader may read,"
                " and a placeholder for any other entry)",
                at,
            )
    if entry.payload is None:
        if statement.kind in PUBLIC_KINDS:
            raise _Bad(f"{where}: payload withheld, but key entries must carry theirs", at)
        if readable:
            whom = "a full export" if for_party is None else f"{for_party}, which may read it"
            raise _Bad(f"{where}: payload withheld from {whom}", at)
        return 1
    if not readable:
        raise _Bad(f"{where}: payload present in {for_party}'s export, outside its audience", at)
    if sha256_hex(entry.payload.encode("utf-8")) != statement.payload_sha256:
        raise _Bad(f"{where}: payload does not match its signed hash (payload edited)", at)
    return 0


def _placeholder(element: Placeholder, index: int, for_party: str | None, where: str, at: str) -> None:
    """A placeholder stands only in a party's export, and never for the genesis (docs/record.md)."""
    if for_party is None:
        raise _Bad(f"{where}: a full export withholds nothing, but holds a placeholder", at)
    if index == 0:
        raise _Bad(f"{where}: the first entry must be the deployment's {GENESIS_KIND}, not a placeholder", at)


def extension_problem(earlier: VerifyReport, later: VerifyReport) -> str | None:
    """None when ``later`` (a verified export) extends ``earlier``; else what was rewritten.

    A party that keeps its previous export detects an operator who rebuilt the chain, even with
    every key it holds: the earlier head must still be in the later chain at the same seq.
    """
    if not earlier.ok or not later.ok:
        return "both exports must verify first"
    if later.entries < earlier.entries:
        return f"the later export has {later.entries} entries, fewer than the earlier {earlier.entries}"
    if earlier.genesis_key_id != later.genesis_key_id:
        return f"a different genesis key ({later.genesis_key_id}, was {earlier.genesis_key_id}): another chain"
    for index, (old, new) in enumerate(zip(earlier.hashes, later.hashes, strict=False)):
        if old != new:
            return f"entry seq {index + 1} differs from the earlier export: the history was rewritten"
    return None


def _payload(entry: Entry, where: str, at: str) -> Any:
    if entry.payload is None:
        return None
    try:
        return strict_json(entry.payload)
    except ValueError as exc:
        raise _Bad(f"{where}: payload is not JSON ({exc})", at) from None


def _key_payload(payload: Any, fields: frozenset[str], where: str, at: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or set(payload) != fields:
        raise _Bad(f"{where}: payload fields must be exactly {sorted(fields)}", at)
    owner = payload["owner"]
    if not isinstance(owner, str) or not (owner == DEPLOYMENT or PARTY_RE.match(owner)):
        raise _Bad(f"{where}: owner is not a party id or {DEPLOYMENT}", at)
    if not isinstance(payload["custodial"], bool):
        raise _Bad(f"{where}: custodial is not true or false", at)
    return payload


def _new_key(payload: dict[str, Any], where: str, at: str, seq: int, id_field: str) -> KeyRecord:
    try:
        public_key = public_key_from_b64(payload["public_key"], "public_key")
    except (ValueError, AttributeError, TypeError):
        raise _Bad(f"{where}: public_key is not an Ed25519 public key in canonical base64", at) from None
    key_id = payload[id_field]
    if key_id != key_id_of(public_key):
        raise _Bad(f"{where}: {id_field} {key_id!r} does not match its public key", at)
    return KeyRecord(key_id, payload["owner"], payload["public_key"], public_key, payload["custodial"], seq)


def _genesis(
    entry: Entry, payload: Any, where: str, at: str, keys: dict[str, KeyRecord], active: dict[str, str]
) -> None:
    statement = entry.statement
    if statement.kind != GENESIS_KIND or statement.party_id is not None or statement.audience is not None:
        raise _Bad(f"{where}: the first entry must be the deployment's {GENESIS_KIND} (party and audience null)", at)
    payload = _key_payload(payload, GENESIS_FIELDS, where, at)
    if payload["owner"] != DEPLOYMENT or payload["custodial"] is not True or payload["format"] != EXPORT_FORMAT:
        raise _Bad(
            f'{where}: genesis payload must have owner {DEPLOYMENT}, custodial true, format "{EXPORT_FORMAT}"', at
        )
    record = _new_key(payload, where, at, entry.seq, "key_id")
    if record.key_id != entry.key_id:
        raise _Bad(f"{where}: genesis must be signed by the deployment key it declares", at)
    keys[record.key_id] = record
    active[DEPLOYMENT] = record.key_id


def _registered(
    entry: Entry,
    payload: Any,
    signer: KeyRecord,
    where: str,
    at: str,
    keys: dict[str, KeyRecord],
    active: dict[str, str],
) -> None:
    payload = _key_payload(payload, REGISTERED_FIELDS, where, at)
    if entry.statement.party_id is not None or entry.statement.audience is not None or signer.owner != DEPLOYMENT:
        raise _Bad(f"{where}: keys are registered by the deployment key (party and audience null)", at)
    record = _new_key(payload, where, at, entry.seq, "key_id")
    if record.owner == DEPLOYMENT:
        raise _Bad(f"{where}: the deployment key changes only by rotation", at)
    if record.owner in active:
        raise _Bad(f"{where}: {record.owner} already has key {active[record.owner]}; a new one is a rotation", at)
    if record.key_id in keys:
        raise _Bad(f"{where}: key {record.key_id} registered twice", at)
    keys[record.key_id] = record
    active[record.owner] = record.key_id


def _rotated(
    entry: Entry,
    payload: Any,
    signer: KeyRecord,
    version: int,
    where: str,
    at: str,
    keys: dict[str, KeyRecord],
    active: dict[str, str],
) -> dict[str, Any]:
    payload = _key_payload(payload, ROTATED_FIELDS, where, at)
    owner, old_id, reason = payload["owner"], payload["old_key"], payload["reason"]
    if reason not in ("scheduled", "compromised"):
        raise _Bad(f'{where}: reason must be "scheduled" or "compromised"', at)
    if active.get(owner) != old_id:
        raise _Bad(f"{where}: old_key {old_id!r} is not the current key of {owner}", at)
    party = entry.statement.party_id
    if reason == "scheduled":
        fits = signer.key_id == old_id and party == (None if owner == DEPLOYMENT else owner)
    else:
        fits = owner != DEPLOYMENT and signer.owner == DEPLOYMENT and party is None
    if not fits or entry.statement.audience is not None:
        raise _Bad(
            f"{where}: a rotation is signed by the old key (scheduled; party = owner, null for {DEPLOYMENT}) "
            "or by the deployment key (compromised; party null); audience null",
            at,
        )
    # A rotation keeps the mode, but for a custodial party's switch to its own key (strong mode),
    # which only an export of version 3 on may hold.
    if payload["custodial"] != keys[old_id].custodial:
        if payload["custodial"] or owner == DEPLOYMENT:
            raise _Bad(
                f"{where}: custodial differs from the old key's (only a party's custodial key may rotate to"
                " custodial false, the party's own key; never back, and never the deployment's)",
                at,
            )
        if version < MODE_SWITCH_VERSION:
            raise _Bad(
                f"{where}: custodial differs from the old key's: in a version {version} export a rotation keeps"
                f" the mode (a party's switch from its custodial key to its own needs export version"
                f" {MODE_SWITCH_VERSION})",
                at,
            )
    record = _new_key(payload, where, at, entry.seq, "new_key")
    if record.key_id in keys:
        raise _Bad(f"{where}: key {record.key_id} registered twice", at)
    keys[old_id].until_seq = entry.seq
    keys[record.key_id] = record
    active[owner] = record.key_id
    return {"seq": entry.seq, "owner": owner, "old_key": old_id, "new_key": record.key_id, "reason": reason}


def _checkpoints(
    values: list[Any], hashes: list[str], keys: dict[str, KeyRecord], report: VerifyReport, origin: str
) -> None:
    tree = MerkleTree(leaf_hash(bytes.fromhex(h)) for h in hashes)
    last_seq = 0
    last_note: str | None = None
    agreed_seq = 0  # the largest size a signed tree head so far agrees with
    for index, raw in enumerate(values):
        where, at = f"checkpoint #{index}", f"/checkpoints/{index}"
        try:
            checkpoint: Checkpoint = checkpoint_from_json(raw, where)
        except ValueError as exc:
            raise _Bad(str(exc), at) from None
        where = f"{where} (seq {checkpoint.seq})"
        if checkpoint.seq <= last_seq:
            raise _Bad(f"{where}: out of order (seq must increase)", at)
        if checkpoint.seq > len(hashes):
            raise _Bad(f"{where}: signs seq {checkpoint.seq} but the file ends at seq {len(hashes)} (truncated)", at)
        last_seq = checkpoint.seq
        if checkpoint.head_hash != hashes[checkpoint.seq - 1]:
            raise _Bad(f"{where}: head hash differs from entry seq {checkpoint.seq} (the chain was rewritten)", at)
        key = keys.get(checkpoint.key_id)
        if key is None or key.owner != DEPLOYMENT:
            raise _Bad(f"{where}: not signed with a deployment key", at)
        if not key.valid_for_checkpoint(checkpoint.seq):
            raise _Bad(f"{where}: deployment key {key.key_id} was not valid at seq {checkpoint.seq}", at)
        if not signature_valid(key.public_key, checkpoint.signed_bytes(), checkpoint.signature):
            raise _Bad(f"{where}: signature does not verify with deployment key {key.key_id}", at)
        last_note = checkpoint.note
        if checkpoint.note is not None:
            problem = _head_problem(checkpoint.note, origin, checkpoint.seq, tree.root(checkpoint.seq), key)
            if problem is not None:
                span = f"; the first entry that differs is after seq {agreed_seq}" if "root hash" in problem else ""
                raise _Bad(f"{where}: signed tree head {problem}{span}", at)
            agreed_seq = checkpoint.seq
            report.tree_heads += 1
            report.root_hash = tree.root(checkpoint.seq).hex()
        report.checkpoints += 1
    if last_seq != len(hashes):
        raise _Bad(
            f"entries after seq {last_seq} are not covered by a deployment checkpoint"
            f" (the file ends at seq {len(hashes)}; entries were added or the export is incomplete)",
            "/checkpoints",
        )
    if last_note is None:
        raise _Bad("the last checkpoint has no signed tree head (note)", f"/checkpoints/{len(values) - 1}")
    report.origin = origin


def _head_problem(text: str, origin: str, size: int, root: bytes, key: KeyRecord) -> str | None:
    """Why a checkpoint note is not the head of ``size`` leaves with ``root`` signed by ``key``, or None."""
    try:
        note = parse_note(text)
    except ValueError as exc:
        return f"is malformed: {exc}"
    if note.head.origin != origin:
        return f"names origin {note.head.origin!r}, not {origin!r}"
    if note.head.size != size:
        return f"has tree size {note.head.size}, not {size}"
    if note.head.root != root:
        return "root hash differs from the tree of the entries (the log was rewritten)"
    if not note.signed_by(origin, key.public_key):
        return f"has no valid signature by deployment key {key.key_id}"
    return None


def key_json(key: KeyRecord) -> dict[str, Any]:
    """A key as the export's ``keys`` list holds it."""
    return {
        "key_id": key.key_id,
        "owner": key.owner,
        "public_key": key.public_key_b64,
        "custodial": key.custodial,
        "from_seq": key.from_seq,
        "until_seq": key.until_seq,
    }


def _listed_keys(values: list[Any], keys: dict[str, KeyRecord]) -> None:
    derived = [key_json(k) for k in keys.values()]
    for index, (listed, expected) in enumerate(zip(values, derived, strict=False)):
        if listed != expected or not _same_types(listed, expected):
            raise _Bad(
                f"keys #{index}: differs from the key the chain registers ({expected['key_id']})", f"/keys/{index}"
            )
    if len(values) != len(derived):
        raise _Bad(f"the file lists {len(values)} keys, the chain registers {len(derived)}", "/keys")


def _listed_rotations(values: list[Any], derived: list[dict[str, Any]]) -> None:
    for index, (listed, expected) in enumerate(zip(values, derived, strict=False)):
        if listed != expected or not _same_types(listed, expected):
            raise _Bad(
                f"rotations #{index}: differs from the rotation the chain records at seq {expected['seq']}",
                f"/rotations/{index}",
            )
    if len(values) != len(derived):
        raise _Bad(f"the file lists {len(values)} rotations, the chain records {len(derived)}", "/rotations")


def _same_types(listed: Any, expected: dict[str, Any]) -> bool:
    """``==`` says ``1 == True``; the spec does not."""
    return isinstance(listed, dict) and all(type(listed[k]) is type(v) for k, v in expected.items())
