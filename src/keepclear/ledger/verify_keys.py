"""The verifier's key history: the rules of the key entries, and the ``keys`` and ``rotations`` lists.

The chain says which key may sign for whom, and from where on (docs/record.md, "Keys"): the genesis
entry introduces the deployment's first key, ``key.registered`` a party's first, ``key.rotated`` the
next. ``verify`` replays them in chain order through ``genesis``, ``registered`` and ``rotated``,
which check an entry's payload and update the keys for the entries after it; once the chain is
replayed, ``listed_keys`` and ``listed_rotations`` compare the file's convenience lists with what
the chain derives.
"""

from __future__ import annotations

from typing import Any

from keepclear.ledger.keys import key_id_of, public_key_from_b64
from keepclear.ledger.model import DEPLOYMENT, PARTY_RE, Entry
from keepclear.ledger.spec import (
    EXPORT_FORMAT,
    GENESIS_FIELDS,
    GENESIS_KIND,
    MODE_SWITCH_VERSION,
    REGISTERED_FIELDS,
    ROTATED_FIELDS,
)
from keepclear.ledger.verdict import Bad, KeyRecord


def _key_payload(payload: Any, fields: frozenset[str], where: str, at: str) -> dict[str, Any]:
    if not isinstance(payload, dict) or set(payload) != fields:
        raise Bad(f"{where}: payload fields must be exactly {sorted(fields)}", at)
    owner = payload["owner"]
    if not isinstance(owner, str) or not (owner == DEPLOYMENT or PARTY_RE.match(owner)):
        raise Bad(f"{where}: owner is not a party id or {DEPLOYMENT}", at)
    if not isinstance(payload["custodial"], bool):
        raise Bad(f"{where}: custodial is not true or false", at)
    return payload


def _new_key(payload: dict[str, Any], where: str, at: str, seq: int, id_field: str) -> KeyRecord:
    try:
        public_key = public_key_from_b64(payload["public_key"], "public_key")
    except (ValueError, AttributeError, TypeError):
        raise Bad(f"{where}: public_key is not an Ed25519 public key in canonical base64", at) from None
    key_id = payload[id_field]
    if key_id != key_id_of(public_key):
        raise Bad(f"{where}: {id_field} {key_id!r} does not match its public key", at)
    return KeyRecord(key_id, payload["owner"], payload["public_key"], public_key, payload["custodial"], seq)


def genesis(
    entry: Entry, payload: Any, where: str, at: str, keys: dict[str, KeyRecord], active: dict[str, str]
) -> None:
    """Entry seq 1: the deployment's ``ledger.genesis``, signed by the key it declares, which it introduces."""
    statement = entry.statement
    if statement.kind != GENESIS_KIND or statement.party_id is not None or statement.audience is not None:
        raise Bad(f"{where}: the first entry must be the deployment's {GENESIS_KIND} (party and audience null)", at)
    payload = _key_payload(payload, GENESIS_FIELDS, where, at)
    if payload["owner"] != DEPLOYMENT or payload["custodial"] is not True or payload["format"] != EXPORT_FORMAT:
        raise Bad(
            f'{where}: genesis payload must have owner {DEPLOYMENT}, custodial true, format "{EXPORT_FORMAT}"', at
        )
    record = _new_key(payload, where, at, entry.seq, "key_id")
    if record.key_id != entry.key_id:
        raise Bad(f"{where}: genesis must be signed by the deployment key it declares", at)
    keys[record.key_id] = record
    active[DEPLOYMENT] = record.key_id


def registered(
    entry: Entry,
    payload: Any,
    signer: KeyRecord,
    where: str,
    at: str,
    keys: dict[str, KeyRecord],
    active: dict[str, str],
) -> None:
    """A ``key.registered`` entry (signed by ``signer``): a party's first key, which it introduces."""
    payload = _key_payload(payload, REGISTERED_FIELDS, where, at)
    if entry.statement.party_id is not None or entry.statement.audience is not None or signer.owner != DEPLOYMENT:
        raise Bad(f"{where}: keys are registered by the deployment key (party and audience null)", at)
    record = _new_key(payload, where, at, entry.seq, "key_id")
    if record.owner == DEPLOYMENT:
        raise Bad(f"{where}: the deployment key changes only by rotation", at)
    if record.owner in active:
        raise Bad(f"{where}: {record.owner} already has key {active[record.owner]}; a new one is a rotation", at)
    if record.key_id in keys:
        raise Bad(f"{where}: key {record.key_id} registered twice", at)
    keys[record.key_id] = record
    active[record.owner] = record.key_id


def rotated(
    entry: Entry,
    payload: Any,
    signer: KeyRecord,
    version: int,
    where: str,
    at: str,
    keys: dict[str, KeyRecord],
    active: dict[str, str],
) -> dict[str, Any]:
    """A ``key.rotated`` entry (signed by ``signer``): the owner's next key; returns its ``rotations`` element."""
    payload = _key_payload(payload, ROTATED_FIELDS, where, at)
    owner, old_id, reason = payload["owner"], payload["old_key"], payload["reason"]
    if reason not in ("scheduled", "compromised"):
        raise Bad(f'{where}: reason must be "scheduled" or "compromised"', at)
    if active.get(owner) != old_id:
        raise Bad(f"{where}: old_key {old_id!r} is not the current key of {owner}", at)
    party = entry.statement.party_id
    if reason == "scheduled":
        fits = signer.key_id == old_id and party == (None if owner == DEPLOYMENT else owner)
    else:
        fits = owner != DEPLOYMENT and signer.owner == DEPLOYMENT and party is None
    if not fits or entry.statement.audience is not None:
        raise Bad(
            f"{where}: a rotation is signed by the old key (scheduled; party = owner, null for {DEPLOYMENT}) "
            "or by the deployment key (compromised; party null); audience null",
            at,
        )
    # A rotation keeps the mode, but for a custodial party's switch to its own key (strong mode),
    # which only an export of version 3 on may hold.
    if payload["custodial"] != keys[old_id].custodial:
        if payload["custodial"] or owner == DEPLOYMENT:
            raise Bad(
                f"{where}: custodial differs from the old key's (only a party's custodial key may rotate to"
                " custodial false, the party's own key; never back, and never the deployment's)",
                at,
            )
        if version < MODE_SWITCH_VERSION:
            raise Bad(
                f"{where}: custodial differs from the old key's: in a version {version} export a rotation keeps"
                f" the mode (a party's switch from its custodial key to its own needs export version"
                f" {MODE_SWITCH_VERSION})",
                at,
            )
    record = _new_key(payload, where, at, entry.seq, "new_key")
    if record.key_id in keys:
        raise Bad(f"{where}: key {record.key_id} registered twice", at)
    keys[old_id].until_seq = entry.seq
    keys[record.key_id] = record
    active[owner] = record.key_id
    return {"seq": entry.seq, "owner": owner, "old_key": old_id, "new_key": record.key_id, "reason": reason}


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


def listed_keys(values: list[Any], keys: dict[str, KeyRecord]) -> None:
    """The file's ``keys`` list is exactly the keys the chain introduced, value and JSON type."""
    derived = [key_json(k) for k in keys.values()]
    for index, (listed, expected) in enumerate(zip(values, derived, strict=False)):
        if listed != expected or not _same_types(listed, expected):
            raise Bad(
                f"keys #{index}: differs from the key the chain registers ({expected['key_id']})", f"/keys/{index}"
            )
    if len(values) != len(derived):
        raise Bad(f"the file lists {len(values)} keys, the chain registers {len(derived)}", "/keys")


def listed_rotations(values: list[Any], derived: list[dict[str, Any]]) -> None:
    """The file's ``rotations`` list is exactly the rotations the chain records, value and JSON type."""
    for index, (listed, expected) in enumerate(zip(values, derived, strict=False)):
        if listed != expected or not _same_types(listed, expected):
            raise Bad(
                f"rotations #{index}: differs from the rotation the chain records at seq {expected['seq']}",
                f"/rotations/{index}",
            )
    if len(values) != len(derived):
        raise Bad(f"the file lists {len(values)} rotations, the chain records {len(derived)}", "/rotations")


def _same_types(listed: Any, expected: dict[str, Any]) -> bool:
    """``==`` says ``1 == True``; the spec does not."""
    return isinstance(listed, dict) and all(type(listed[k]) is type(v) for k, v in expected.items())
