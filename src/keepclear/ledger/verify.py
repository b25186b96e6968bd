"""Offline verification of an exported ledger: every hash, every signature, the key history.

Needs nothing but the file and ``cryptography``. The chain is replayed from the genesis entry, which
carries the deployment's first public key (compare its id with the one the deployment published);
``key.registered`` and ``key.rotated`` entries then say which key may sign for whom from where on.
Verification stops at the first problem and names the entry (index in the file and seq).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from keepclear.errors import KeepclearError
from keepclear.ledger.canonical import sha256_hex
from keepclear.ledger.keys import Ed25519PublicKey, key_id_of, public_key_from_b64, signature_valid
from keepclear.ledger.model import (
    DEPLOYMENT,
    GENESIS_PREV,
    Checkpoint,
    Entry,
    Statement,
    checkpoint_from_json,
    entry_from_json,
)

EXPORT_FORMAT = "keepclear-ledger"
EXPORT_VERSION = 1

GENESIS_KIND = "ledger.genesis"
KEY_REGISTERED = "key.registered"
KEY_ROTATED = "key.rotated"
#: Kinds whose payload is never redacted: every verifier needs them to know the keys.
PUBLIC_KINDS = frozenset({GENESIS_KIND, KEY_REGISTERED, KEY_ROTATED})


def payload_readable(statement: Statement, party_id: str | None) -> bool:
    """May ``party_id`` (None: the operator) read the payload of an entry with ``statement``?

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


@dataclass
class VerifyReport:
    """The outcome: ``problem`` is None when everything checks."""

    problem: str | None
    entries: int = 0
    checkpoints: int = 0
    redacted: int = 0
    party_signed: int = 0
    deployment_signed: int = 0
    genesis_key_id: str | None = None
    head_hash: str | None = None
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
            f"OK: {self.entries} entries, {self.checkpoints} checkpoints, head {self.head_hash}; "
            f"{self.party_signed} signed by the actor's own key, {self.deployment_signed} vouched for by the"
            f" deployment on a strong-mode party's behalf; "
            f"{self.redacted} payloads withheld (hash verified); genesis key {self.genesis_key_id}"
        )


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
    if version != EXPORT_VERSION:
        raise ExportFileError(
            f"{name}: unknown export version {version!r}; this keepclear reads version {EXPORT_VERSION}"
        )
    for name_ in ("entries", "checkpoints", "keys"):
        if not isinstance(document.get(name_), list):
            raise ExportFileError(f"{name}: field {name_!r} is missing or not a list")
    return document


class _Bad(Exception):
    pass


def _where(index: int, entry: Entry | None) -> str:
    return f"entry #{index}" + (f" (seq {entry.seq}, {entry.statement.kind})" if entry is not None else "")


def verify_document(document: dict[str, Any]) -> VerifyReport:
    """Check every entry, key and checkpoint of a parsed export (see the module docstring)."""
    report = VerifyReport(problem=None)
    try:
        _verify(document, report)
    except _Bad as bad:
        report.problem = str(bad)
    return report


def _verify(document: dict[str, Any], report: VerifyReport) -> None:
    keys: dict[str, KeyRecord] = {}
    active: dict[str, str] = {}  # owner -> key id
    nonces: dict[str, int] = {}
    hashes: list[str] = []
    prev = GENESIS_PREV
    for index, raw in enumerate(document["entries"]):
        try:
            entry = entry_from_json(raw, f"entry #{index}")
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        where = _where(index, entry)
        if entry.seq != index + 1:
            raise _Bad(f"{where}: expected seq {index + 1} (an entry is missing, extra or out of order)")
        if entry.prev_hash != prev:
            raise _Bad(f"{where}: previous-hash link broken (an entry before it was changed, dropped or moved)")
        statement = entry.statement
        if entry.payload is None:
            if statement.kind in PUBLIC_KINDS:
                raise _Bad(f"{where}: payload withheld, but key entries must carry theirs")
            report.redacted += 1
        elif sha256_hex(entry.payload.encode("utf-8")) != statement.payload_sha256:
            raise _Bad(f"{where}: payload does not match its signed hash (payload edited)")
        if statement.nonce in nonces:
            raise _Bad(f"{where}: statement replayed (same nonce as seq {nonces[statement.nonce]})")
        nonces[statement.nonce] = entry.seq
        payload = _payload(entry, where)
        if index == 0:
            _genesis(entry, payload, where, keys, active)
            report.genesis_key_id = entry.key_id
        signer = keys.get(entry.key_id)
        if signer is None:
            raise _Bad(f"{where}: signed with unknown key {entry.key_id}")
        if signer.until_seq is not None or active.get(signer.owner) != signer.key_id:
            raise _Bad(f"{where}: signed with key {entry.key_id} of {signer.owner}, which was no longer valid")
        expected_owner = statement.signer_owner
        compromised_rotation = (
            statement.kind == KEY_ROTATED and isinstance(payload, dict) and payload.get("reason") == "compromised"
        )
        if signer.owner not in (expected_owner, DEPLOYMENT):
            raise _Bad(f"{where}: signed with key {entry.key_id} of {signer.owner}, not of {expected_owner}")
        if not signature_valid(signer.public_key, statement.to_bytes(), entry.signature):
            raise _Bad(f"{where}: signature does not verify with key {entry.key_id} ({signer.owner})")
        if index > 0:
            _key_entry(entry, payload, signer, compromised_rotation, where, keys, active)
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
        raise _Bad("the export holds no entries")
    _checkpoints(document["checkpoints"], hashes, keys, report)
    _listed_keys(document["keys"], keys)
    report.keys = list(keys.values())


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


def _payload(entry: Entry, where: str) -> Any:
    if entry.payload is None:
        return None
    try:
        return json.loads(entry.payload)
    except ValueError:
        raise _Bad(f"{where}: payload is not JSON") from None


def _new_key(payload: Any, where: str, seq: int, id_field: str) -> KeyRecord:
    if not isinstance(payload, dict):
        raise _Bad(f"{where}: key payload is not an object")
    try:
        public_key = public_key_from_b64(payload.get("public_key"), f"{where}: public_key")  # type: ignore[arg-type]
    except (ValueError, AttributeError, TypeError):
        raise _Bad(f"{where}: public_key is not an Ed25519 public key") from None
    key_id = payload.get(id_field)
    if key_id != key_id_of(public_key):
        raise _Bad(f"{where}: {id_field} {key_id!r} does not match its public key")
    owner = payload.get("owner")
    if not isinstance(owner, str):
        raise _Bad(f"{where}: owner missing")
    return KeyRecord(key_id, owner, payload["public_key"], public_key, bool(payload.get("custodial", True)), seq)


def _genesis(entry: Entry, payload: Any, where: str, keys: dict[str, KeyRecord], active: dict[str, str]) -> None:
    if entry.statement.kind != GENESIS_KIND or entry.statement.party_id is not None:
        raise _Bad(f"{where}: the first entry must be the deployment's {GENESIS_KIND}")
    record = _new_key(payload, where, entry.seq, "key_id")
    if record.owner != DEPLOYMENT or record.key_id != entry.key_id:
        raise _Bad(f"{where}: genesis must be signed by the deployment key it declares")
    keys[record.key_id] = record
    active[DEPLOYMENT] = record.key_id


def _key_entry(
    entry: Entry,
    payload: Any,
    signer: KeyRecord,
    compromised: bool,
    where: str,
    keys: dict[str, KeyRecord],
    active: dict[str, str],
) -> None:
    kind = entry.statement.kind
    if kind == GENESIS_KIND:
        raise _Bad(f"{where}: a second genesis entry")
    if kind == KEY_REGISTERED:
        record = _new_key(payload, where, entry.seq, "key_id")
        if signer.owner != DEPLOYMENT:
            raise _Bad(f"{where}: keys are registered by the deployment key")
        if record.owner in active:
            raise _Bad(f"{where}: {record.owner} already has key {active[record.owner]}; a new one is a rotation")
        if record.key_id in keys:
            raise _Bad(f"{where}: key {record.key_id} registered twice")
        keys[record.key_id] = record
        active[record.owner] = record.key_id
    elif kind == KEY_ROTATED:
        record = _new_key(payload, where, entry.seq, "new_key")
        old_id = payload.get("old_key")
        if active.get(record.owner) != old_id:
            raise _Bad(f"{where}: old_key {old_id!r} is not the current key of {record.owner}")
        if signer.key_id != old_id and not (compromised and signer.owner == DEPLOYMENT and record.owner != DEPLOYMENT):
            raise _Bad(
                f"{where}: a rotation is signed by the old key (or by the deployment when the old key is compromised)"
            )
        if record.key_id in keys:
            raise _Bad(f"{where}: key {record.key_id} registered twice")
        keys[old_id].until_seq = entry.seq
        keys[record.key_id] = record
        active[record.owner] = record.key_id


def _checkpoints(values: list[Any], hashes: list[str], keys: dict[str, KeyRecord], report: VerifyReport) -> None:
    last_seq = 0
    for index, raw in enumerate(values):
        where = f"checkpoint #{index}"
        try:
            checkpoint: Checkpoint = checkpoint_from_json(raw, where)
        except ValueError as exc:
            raise _Bad(str(exc)) from None
        where = f"{where} (seq {checkpoint.seq})"
        if checkpoint.seq > len(hashes):
            raise _Bad(f"{where}: signs seq {checkpoint.seq} but the file ends at seq {len(hashes)} (truncated)")
        if checkpoint.seq < 1 or checkpoint.seq < last_seq:
            raise _Bad(f"{where}: out of order")
        last_seq = checkpoint.seq
        if checkpoint.head_hash != hashes[checkpoint.seq - 1]:
            raise _Bad(f"{where}: head hash differs from entry seq {checkpoint.seq} (the chain was rewritten)")
        key = keys.get(checkpoint.key_id)
        if key is None or key.owner != DEPLOYMENT:
            raise _Bad(f"{where}: not signed with a deployment key")
        if checkpoint.seq < key.from_seq or (key.until_seq is not None and checkpoint.seq >= key.until_seq):
            raise _Bad(f"{where}: deployment key {key.key_id} was not valid at seq {checkpoint.seq}")
        if not signature_valid(key.public_key, checkpoint.signed_bytes(), checkpoint.signature):
            raise _Bad(f"{where}: signature does not verify with deployment key {key.key_id}")
        report.checkpoints += 1
    if last_seq != len(hashes):
        raise _Bad(
            f"entries after seq {last_seq} are not covered by a deployment checkpoint"
            f" (the file ends at seq {len(hashes)}; entries were added or the export is incomplete)"
        )


def _listed_keys(values: list[Any], keys: dict[str, KeyRecord]) -> None:
    listed: dict[str, tuple[Any, Any]] = {}
    for index, raw in enumerate(values):
        if not isinstance(raw, dict) or not isinstance(raw.get("key_id"), str):
            raise _Bad(f"keys #{index}: not a key object")
        listed[raw["key_id"]] = (raw.get("owner"), raw.get("public_key"))
    derived = {k.key_id: (k.owner, k.public_key_b64) for k in keys.values()}
    if listed != derived:
        raise _Bad("the keys listed in the file differ from the keys the chain registers")
