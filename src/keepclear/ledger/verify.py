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

This module reads the file and replays its entries; the key entries' rules are ``verify_keys``, the
checkpoints and signed tree heads ``verify_heads``, the report they fill ``verdict``, and the names
and need-to-know rule the writer shares ``spec``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from keepclear.domain.json_input import TOO_MANY_DIGITS
from keepclear.errors import KeepclearError
from keepclear.ledger.canonical import sha256_hex, strict_json
from keepclear.ledger.keys import signature_valid
from keepclear.ledger.model import (
    DEPLOYMENT,
    GENESIS_PREV,
    INT_LIMIT,
    PARTY_RE,
    Entry,
    Placeholder,
    entry_from_json,
    placeholder_from_json,
)
from keepclear.ledger.note import origin_of
from keepclear.ledger.spec import (
    EXPORT_FIELDS,
    EXPORT_FORMAT,
    GENESIS_KIND,
    KEY_REGISTERED,
    KEY_ROTATED,
    PUBLIC_KINDS,
    READ_VERSIONS,
    payload_readable,
)
from keepclear.ledger.verdict import Bad, KeyRecord, VerifyReport
from keepclear.ledger.verify_heads import checkpoints
from keepclear.ledger.verify_keys import genesis, listed_keys, listed_rotations, registered, rotated


class ExportFileError(KeepclearError):
    """An export file that cannot be read as a ledger export (the message is one line)."""


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
    except RecursionError:
        raise ExportFileError(f"{name}: JSON nested too deeply to read, not a ledger export") from None
    except ValueError:  # an integer of more digits than Python converts (4,300)
        raise ExportFileError(f"{name}: {TOO_MANY_DIGITS}, not a ledger export") from None
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


def _where(index: int, entry: Entry | Placeholder | None) -> str:
    if isinstance(entry, Placeholder):
        return f"entry #{index} (seq {entry.seq}, withheld)"
    return f"entry #{index}" + (f" (seq {entry.seq}, {entry.statement.kind})" if entry is not None else "")


def verify_document(document: dict[str, Any]) -> VerifyReport:
    """Check an export exactly as docs/record.md specifies, in its order; the first problem wins."""
    report = VerifyReport(problem=None)
    try:
        _verify(document, report)
    except Bad as bad:
        report.problem = str(bad)
        report.at = bad.at
    except RecursionError:  # a value nested so deep that walking it exhausts the stack
        report.problem, report.at = "a value is nested too deeply to check", ""
    return report


def _top_level(document: dict[str, Any]) -> str | None:
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in READ_VERSIONS:
        raise Bad(f"unknown export version {version!r}", "")
    if set(document) != EXPORT_FIELDS:
        missing, extra = sorted(EXPORT_FIELDS - set(document)), sorted(set(document) - EXPORT_FIELDS)
        raise Bad(f"the file's fields differ from the spec (missing {missing}, unknown {extra})", "")
    exported = document["exported_us"]
    if not isinstance(exported, int) or isinstance(exported, bool) or not 0 <= exported < INT_LIMIT:
        raise Bad("exported_us: not an integer from 0 to 2**63 - 1", "/exported_us")
    for_party = document["for_party"]
    if for_party is not None and (not isinstance(for_party, str) or not PARTY_RE.match(for_party)):
        raise Bad("for_party: not a party id or null", "/for_party")
    for name in ("keys", "rotations", "entries", "checkpoints"):
        if not isinstance(document[name], list):
            raise Bad(f"{name}: not a list", f"/{name}")
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
            raise Bad(str(exc), at) from None
        where = _where(index, element)
        if element.seq != index + 1:
            raise Bad(f"{where}: expected seq {index + 1} (an entry is missing, extra or out of order)", at)
        if element.prev_hash != prev:
            before = "64 zeros" if index == 0 else f"the hash of entry #{index - 1}"
            raise Bad(
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
            raise Bad(f"{where}: statement replayed (same nonce as seq {nonces[statement.nonce]})", at)
        nonces[statement.nonce] = entry.seq
        if index == 0:
            genesis(entry, payload, where, at, keys, active)
            report.genesis_key_id = entry.key_id
        elif statement.kind == GENESIS_KIND:
            raise Bad(f"{where}: a second genesis entry", at)
        if entry.key_id is None:
            if statement.kind in PUBLIC_KINDS:
                raise Bad(f"{where}: key entries carry their own signature", at)
            report.head_vouched += 1
            prev = entry.hash()
            hashes.append(prev)
            continue
        signer = keys.get(entry.key_id)
        if signer is None:
            raise Bad(f"{where}: signed with unknown key {entry.key_id}", at)
        if not signer.valid_for_entry(entry.seq) or active.get(signer.owner) != signer.key_id:
            raise Bad(
                f"{where}: signed with key {entry.key_id} of {signer.owner}, which was not valid at this seq (no longer valid, or not yet)",
                at,
            )
        expected_owner = statement.signer_owner
        if signer.owner not in (expected_owner, DEPLOYMENT):
            raise Bad(f"{where}: signed with key {entry.key_id} of {signer.owner}, not of {expected_owner}", at)
        if not signature_valid(signer.public_key, statement.to_bytes(), entry.signature or ""):
            raise Bad(f"{where}: signature does not verify with key {entry.key_id} ({signer.owner})", at)
        if statement.kind == KEY_REGISTERED:
            registered(entry, payload, signer, where, at, keys, active)
        elif statement.kind == KEY_ROTATED:
            rotations.append(rotated(entry, payload, signer, version, where, at, keys, active))
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
        raise Bad("the export holds no entries", "/entries")
    assert report.genesis_key_id is not None
    checkpoints(document["checkpoints"], hashes, keys, report, origin_of(report.genesis_key_id))
    listed_keys(document["keys"], keys)
    listed_rotations(document["rotations"], rotations)
    report.keys = list(keys.values())


def _presence(entry: Entry, version: int, for_party: str | None, where: str, at: str) -> int:
    """Check that ``entry`` may be in ``for_party``'s export as it is (docs/record.md, "Payloads and
    need-to-know"; version 1: payloads withheld); 1 when its payload is withheld, else 0."""
    statement = entry.statement
    readable = payload_readable(statement, for_party)
    if version >= 2:
        if not readable:
            raise Bad(
                f"{where}: the statement of an entry outside {for_party}'s audience"
                " (its export holds a placeholder there: seq, prev and hash only)",
                at,
            )
        if entry.payload is None:
            raise Bad(
                f"{where}: payload withheld (an export of version 2 on carries every payload its reader may read,"
                " and a placeholder for any other entry)",
                at,
            )
    if entry.payload is None:
        if statement.kind in PUBLIC_KINDS:
            raise Bad(f"{where}: payload withheld, but key entries must carry theirs", at)
        if readable:
            whom = "a full export" if for_party is None else f"{for_party}, which may read it"
            raise Bad(f"{where}: payload withheld from {whom}", at)
        return 1
    if not readable:
        raise Bad(f"{where}: payload present in {for_party}'s export, outside its audience", at)
    if sha256_hex(entry.payload.encode("utf-8")) != statement.payload_sha256:
        raise Bad(f"{where}: payload does not match its signed hash (payload edited)", at)
    return 0


def _placeholder(element: Placeholder, index: int, for_party: str | None, where: str, at: str) -> None:
    """A placeholder stands only in a party's export, and never for the genesis (docs/record.md)."""
    if for_party is None:
        raise Bad(f"{where}: a full export withholds nothing, but holds a placeholder", at)
    if index == 0:
        raise Bad(f"{where}: the first entry must be the deployment's {GENESIS_KIND}, not a placeholder", at)


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
        raise Bad(f"{where}: payload is not JSON ({exc})", at) from None
