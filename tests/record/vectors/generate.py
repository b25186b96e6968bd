"""Write the record test vectors (docs/record.md, "Test vectors"): export files and their verdicts.

    .venv/bin/python tests/record/vectors/generate.py

Deterministic: the ledger runs on a fixed clock with seeded key and nonce randomness, and Ed25519
signatures are deterministic, so running it again rewrites the same bytes. The clean exports come from
keepclear's own writer (``Ledger``); each tampered file changes one thing. Where the change breaks a
rule of the spec rather than a hash, the file is *forged*: re-signed and re-chained with the right
private keys (the generator keeps every seed), checkpoints and tree heads included, so only that rule
can catch it. The expected verdicts below are written by hand from the spec, not read back from
``keepclear ledger verify``; ``tests/record/test_record_vectors.py`` checks that verify agrees.
"""

from __future__ import annotations

import copy
import hashlib
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from keepclear.ledger import KeyFolder, Ledger, LedgerConfig, sign_submission
from keepclear.ledger.canonical import canonical_bytes, canonical_text, sha256_hex
from keepclear.ledger.keys import key_id_of, public_key_b64, sign_b64
from keepclear.ledger.merkle import MerkleTree, leaf_hash
from keepclear.ledger.model import checkpoint_bytes, statement_from_json
from keepclear.ledger.note import TreeHead, sign_head
from keepclear.ledger.spec import payload_readable
from keepclear.services.runtime.bus import ManualClock
from keepclear.store import Database, migrate

HERE = Path(__file__).resolve().parent
START_S = 1_764_720_000.0  # 2025-12-03T00:00:00Z


class Seeds:
    """Deterministic 'randomness' that remembers every 32-byte key seed it gave out."""

    def __init__(self) -> None:
        self.counter = 0
        self.keys: dict[str, Ed25519PrivateKey] = {}

    def __call__(self, n: int) -> bytes:
        self.counter += 1
        out = hashlib.sha256(f"keepclear-vectors-{self.counter}".encode()).digest()[:n]
        if n == 32:
            key = Ed25519PrivateKey.from_private_bytes(out)
            self.keys[key_id_of(key.public_key())] = key
        return out

    def key(self, label: str) -> Ed25519PrivateKey:
        """A party-held key (strong mode) from a labelled seed."""
        key = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(label.encode()).digest())
        self.keys[key_id_of(key.public_key())] = key
        return key


def build(folder: Path, seeds: Seeds) -> tuple[Ledger, dict[str, Any], dict[str, Any]]:
    """A ledger with a bit of everything: custodial, strong, each kind of rotation, withheld payloads;
    and its full and russia's exports written just before a custodial party's switch to its own key
    (the ledger as a version 2 export may hold it)."""
    db = Database(f"sqlite:///{folder / 'vectors.db'}")
    migrate(db)
    clock = ManualClock(START_S)
    keys = KeyFolder(folder / "keys", random_bytes=seeds)
    # The first entries signed one by one (entry_signatures="each"), the rest batch-signed (the default):
    # the signed tree heads vouch for those.
    each = LedgerConfig(checkpoint_every_entries=4, entry_signatures="each")
    signed = Ledger(db, keys, clock, each, random_bytes=seeds)
    ledger = Ledger(db, keys, clock, LedgerConfig(checkpoint_every_entries=4), random_bytes=seeds)
    both = ["coalition", "russia"]
    signed.append("party.added", None, {"party_id": "coalition"})
    numbers = {"activity_id": "a1", "alt_ft": 20000.5, "lower_ft": 1.0, "tiny": 1e-07, "big": 1e16, "neg": -0.0}
    signed.append("activity.notified", "coalition", numbers | {"count": 2**70}, audience=both)
    clock.advance(30)
    text = 'Приём "quoted" \\ back\nnew line\ttab \x01ctl \x7fdel /slash 😀 \u2028'
    signed.append("message.posted", "russia", {"message_id": "m1", "text": text}, audience=both)
    signed.append("activity.acknowledged", "russia", {"activity_id": "a1"}, audience=both)
    signed.rotate_key("russia")
    clock.advance(60)
    ledger.append("message.posted", "russia", {"message_id": "m2", "text": "after rotation"}, audience=both)
    nato = seeds.key("nato-1")
    ledger.register_public_key("nato", public_key_b64(nato.public_key()))
    submission = sign_submission(
        nato,
        "nato",
        "activity.objected",
        {"activity_id": "a1", "reason": "overlap"},
        time_s=clock.now_s(),
        nonce="nato0objection0000000001",
    )
    ledger.append_submission(submission)
    ledger.append("message.posted", "coalition", {"message_id": "m3", "text": "private"}, audience=["coalition"])
    nato_new = seeds.key("nato-2")
    ledger.rotate_key("nato", compromised=True, new_public_key=public_key_b64(nato_new.public_key()))
    clock.advance(5)
    ledger.rotate_key("@deployment")
    ledger.append("alert.raised", None, {"alert_id": "x1", "level": "caution"}, audience=both)
    full_before, party_before = ledger.export_document(), ledger.export_document(for_party="russia")
    # coalition (custodial) switches to its own key: a rotation to custodial false, signed by its
    # custodial key; then it signs its own words.
    coalition = seeds.key("coalition-own-1")
    ledger.register_public_key("coalition", public_key_b64(coalition.public_key()))
    clock.advance(5)
    submission = sign_submission(
        coalition,
        "coalition",
        "message.posted",
        {"message_id": "m4", "text": "in strong mode"},
        time_s=clock.now_s(),
        audience=both,
        nonce="coalition0own0message0001",
    )
    ledger.append_submission(submission)
    return ledger, full_before, party_before


# -- forging helpers: what an operator holding every private key could do -------------------------------
def _resign_entry(doc: dict[str, Any], index: int, seeds: Seeds) -> None:
    entry = doc["entries"][index]
    entry["sig"] = sign_b64(seeds.keys[entry["key"]], canonical_bytes(entry["statement"]))


def _entry_hash(raw: dict[str, Any]) -> str:
    return sha256_hex(
        canonical_bytes(
            {
                "type": "entry",
                "seq": raw["seq"],
                "prev": raw["prev"],
                "statement": canonical_text(raw["statement"]),
                "key": raw["key"],
                "sig": raw["sig"],
            }
        )
    )


def forge(doc: dict[str, Any], seeds: Seeds, resign: tuple[int, ...] = ()) -> dict[str, Any]:
    """Re-sign the entries ``resign``, re-link every entry, recompute and re-sign every checkpoint."""
    for index in resign:
        _resign_entry(doc, index, seeds)
    hashes: list[str] = []
    prev = "0" * 64
    for raw in doc["entries"]:
        raw["prev"] = prev
        prev = _entry_hash(raw)
        hashes.append(prev)
    origin = None
    tree = MerkleTree(leaf_hash(bytes.fromhex(h)) for h in hashes)
    for checkpoint in doc["checkpoints"]:
        seq = checkpoint["seq"]
        if seq > len(hashes):
            continue
        checkpoint["head"] = hashes[seq - 1]
        key = seeds.keys[checkpoint["key"]]
        checkpoint["sig"] = sign_b64(
            key, checkpoint_bytes(seq, checkpoint["head"], checkpoint["time_us"], checkpoint["key"])
        )
        origin = origin or checkpoint["note"].split("\n", 1)[0]
        checkpoint["note"] = sign_head(TreeHead(origin, seq, tree.root(seq)), key)
    return doc


def version_1(full: dict[str, Any], for_party: str | None) -> dict[str, Any]:
    """The export keepclear wrote before version 2: every statement, the payloads ``for_party`` may not
    read withheld (``full``: a full export without a mode switch, which is version 1's but for the
    number)."""
    doc = copy.deepcopy(full) | {"version": 1, "for_party": for_party}
    for raw in doc["entries"]:
        if not payload_readable(statement_from_json(raw["statement"], "statement"), for_party):
            raw["payload"] = None
    return doc


def version_2(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` labelled version 2: what keepclear wrote before version 3 (the same file, but for the
    number, when no key changes its mode; the number is signed nowhere)."""
    return copy.deepcopy(doc) | {"version": 2}


def vectors_old(
    full: dict[str, Any], before_switch: dict[str, Any], party_before_switch: dict[str, Any]
) -> list[tuple[str, dict[str, Any], Any, str]]:
    """Version 1 and 2 exports, which verifiers still read: the clean ones (of the ledger before its
    mode switch), a version 1 party's carrying a payload outside its audience, and a version 2 export
    holding a custodial party's switch to its own key (valid from version 3 on)."""
    party = version_1(before_switch, "russia")
    private = [i for i, e in enumerate(before_switch["entries"]) if e["statement"]["kind"] == "message.posted"][2]
    leaked = copy.deepcopy(party)
    leaked["entries"][private]["payload"] = before_switch["entries"][private]["payload"]
    switch = next(
        i
        for i, e in enumerate(full["entries"])
        if e["statement"]["kind"] == "key.rotated" and json.loads(e["payload"])["owner"] == "coalition"
    )
    return [
        ("v1-clean-full", version_1(before_switch, None), None, "a full export of version 1 (before placeholders)"),
        (
            "v1-clean-party",
            party,
            None,
            "russia's export of version 1: every statement, payloads outside its audience withheld",
        ),
        (
            "v1-party-export-leaks",
            leaked,
            f"/entries/{private}",
            "russia's version 1 export carries a payload outside its audience",
        ),
        (
            "v2-clean-full",
            version_2(before_switch),
            None,
            "a full export of version 2 (no key changes its mode): extended by clean-full",
        ),
        (
            "v2-clean-party",
            version_2(party_before_switch),
            None,
            "russia's export of version 2 (placeholders; no key changes its mode)",
        ),
        (
            "v2-rotation-to-own-key",
            version_2(full),
            f"/entries/{switch}",
            "a version 2 export holding a custodial party's switch to its own key (valid only in version 3)",
        ),
    ]


def vectors(
    full: dict[str, Any],
    party: dict[str, Any],
    before_switch: dict[str, Any],
    party_before_switch: dict[str, Any],
    seeds: Seeds,
) -> list[tuple[str, dict[str, Any], Any, str]]:
    """(name, document or raw text, expected ``at`` or None for OK, what it shows)."""
    out: list[tuple[str, dict[str, Any], Any, str]] = vectors_old(full, before_switch, party_before_switch)

    def index(kind: str, nth: int = 0, doc: dict[str, Any] = full) -> int:
        return [i for i, e in enumerate(doc["entries"]) if e["statement"]["kind"] == kind][nth]

    def case(name: str, at: str | None, what: str, edit: Callable[[dict[str, Any]], Any], base: Any = None) -> None:
        doc = copy.deepcopy(full if base is None else base)
        edit(doc)
        out.append((name, doc, at, what))

    out.append(("clean-full", copy.deepcopy(full), None, "a full export as keepclear writes it"))
    out.append(
        (
            "clean-party",
            copy.deepcopy(party),
            None,
            "russia's export: a placeholder for each entry outside its audience",
        )
    )

    m1 = index("message.posted")
    ack = index("activity.acknowledged")
    rot = index("key.rotated")
    reg = index("key.registered")
    private = index("message.posted", 2)
    last = len(full["entries"]) - 1

    def edit_payload(d: dict[str, Any]) -> None:
        d["entries"][ack]["payload"] = d["entries"][ack]["payload"].replace("a1", "a2")

    case("payload-edited", f"/entries/{ack}", "payload changed, its signed hash not", edit_payload)

    def rehashed(d: dict[str, Any]) -> None:
        edit_payload(d)
        d["entries"][ack]["statement"]["payload_sha256"] = sha256_hex(d["entries"][ack]["payload"].encode())

    case("payload-rehashed", f"/entries/{ack}", "payload and statement hash changed: the signature fails", rehashed)
    case("entry-dropped", f"/entries/{m1}", "an entry removed", lambda d: d["entries"].pop(m1))

    def swap(d: dict[str, Any]) -> None:
        e = d["entries"]
        e[m1], e[ack] = e[ack], e[m1]

    case("entries-swapped", f"/entries/{m1}", "two entries exchanged", swap)

    def dropped_relinked(d: dict[str, Any]) -> None:
        d["entries"].pop(m1)
        for i, raw in enumerate(d["entries"]):
            raw["seq"] = i + 1
        prev = "0" * 64
        for raw in d["entries"]:
            raw["prev"] = prev
            prev = _entry_hash(raw)

    first_cp_after = next(i for i, c in enumerate(full["checkpoints"]) if c["seq"] > m1)
    case(
        "entry-dropped-relinked",
        f"/checkpoints/{first_cp_after}",
        "an entry removed and the chain re-linked without the deployment key: the checkpoint tells",
        dropped_relinked,
    )

    def replay(d: dict[str, Any]) -> None:
        copied = copy.deepcopy(d["entries"][m1])
        copied["seq"] = len(d["entries"]) + 1
        d["entries"].append(copied)
        forge(d, seeds)

    case("statement-replayed", f"/entries/{last + 1}", "an old signed statement appended again (same nonce)", replay)

    def object_hash(d: dict[str, Any]) -> None:
        prev = "0" * 64
        for raw in d["entries"]:
            raw["prev"] = prev
            prev = sha256_hex(
                canonical_bytes({"type": "entry"} | {k: raw[k] for k in ("seq", "prev", "statement", "key", "sig")})
            )

    case(
        "entry-hash-over-statement-object",
        "/entries/1",
        "links computed with the statement as an object instead of its canonical text",
        object_hash,
    )

    def wrong_key(d: dict[str, Any]) -> None:
        d["entries"][m1]["key"] = d["entries"][index("activity.notified")]["key"]  # coalition's key
        forge(d, seeds, (m1,))

    case("signed-by-another-party", f"/entries/{m1}", "russia's message signed with coalition's key", wrong_key)

    def retired(d: dict[str, Any]) -> None:
        after = index("message.posted", 1)
        d["entries"][after]["key"] = json.loads(d["entries"][rot]["payload"])["old_key"]
        forge(d, seeds, (after,))

    case(
        "signed-by-retired-key",
        f"/entries/{index('message.posted', 1)}",
        "signed after its key's rotation with the old key (valid signature, outside the key's window)",
        retired,
    )

    def unsorted(d: dict[str, Any]) -> None:
        d["entries"][m1]["statement"]["audience"] = ["russia", "coalition"]
        forge(d, seeds, (m1,))

    case("audience-unsorted", f"/entries/{m1}", "audience not sorted (validly signed)", unsorted)

    def extra_field(d: dict[str, Any]) -> None:
        d["entries"][m1]["statement"]["note"] = "extra"
        forge(d, seeds, (m1,))

    case("statement-extra-field", f"/entries/{m1}", "the statement's field set is closed", extra_field)

    def unpadded(d: dict[str, Any]) -> None:
        d["entries"][m1]["sig"] = d["entries"][m1]["sig"].rstrip("=")
        forge(d, seeds)

    case("signature-unpadded-base64", f"/entries/{m1}", "base64 without padding", unpadded)

    def upper_hex(d: dict[str, Any]) -> None:
        d["entries"][m1]["statement"]["payload_sha256"] = d["entries"][m1]["statement"]["payload_sha256"].upper()
        forge(d, seeds, (m1,))

    case("hex-upper-case", f"/entries/{m1}", "upper-case hex in payload_sha256 (validly signed)", upper_hex)

    def bad_kind(d: dict[str, Any]) -> None:
        d["entries"][m1]["statement"]["kind"] = "Message Posted"
        forge(d, seeds, (m1,))

    case("kind-syntax", f"/entries/{m1}", "a kind that is not dotted lower-case words", bad_kind)

    def nan_payload(d: dict[str, Any]) -> None:
        d["entries"][m1]["payload"] = '{"message_id":"m1","value":NaN}'
        d["entries"][m1]["statement"]["payload_sha256"] = sha256_hex(d["entries"][m1]["payload"].encode())
        forge(d, seeds, (m1,))

    case("payload-not-json", f"/entries/{m1}", "a payload with NaN (not JSON), validly hashed and signed", nan_payload)

    def registered_extra(d: dict[str, Any]) -> None:
        payload = json.loads(d["entries"][reg]["payload"]) | {"comment": "x"}
        d["entries"][reg]["payload"] = canonical_text(payload)
        d["entries"][reg]["statement"]["payload_sha256"] = sha256_hex(d["entries"][reg]["payload"].encode())
        forge(d, seeds, (reg,))

    case("key-registered-extra-field", f"/entries/{reg}", "key.registered payload schema is closed", registered_extra)

    def genesis_schema(d: dict[str, Any]) -> None:
        payload = json.loads(d["entries"][0]["payload"])
        del payload["format"]
        d["entries"][0]["payload"] = canonical_text(payload)
        d["entries"][0]["statement"]["payload_sha256"] = sha256_hex(d["entries"][0]["payload"].encode())
        forge(d, seeds, (0,))

    case("genesis-missing-format", "/entries/0", "genesis payload schema", genesis_schema)

    def keys_window(d: dict[str, Any]) -> None:
        d["keys"][1]["from_seq"] += 1

    case("keys-list-window", "/keys/1", "a key's from_seq in the keys list differs from the chain", keys_window)

    def rotations_list(d: dict[str, Any]) -> None:
        d["rotations"][0]["reason"] = "compromised"

    case("rotations-list", "/rotations/0", "the rotations list differs from the chain", rotations_list)

    compromised = index("key.rotated", 1)  # nato's strong-mode key, rotated by the deployment

    def to_custodial(d: dict[str, Any]) -> None:
        payload = json.loads(d["entries"][compromised]["payload"]) | {"custodial": True}
        d["entries"][compromised]["payload"] = canonical_text(payload)
        d["entries"][compromised]["statement"]["payload_sha256"] = sha256_hex(
            d["entries"][compromised]["payload"].encode()
        )
        forge(d, seeds, (compromised,))

    case(
        "rotation-to-custodial",
        f"/entries/{compromised}",
        "a strong-mode key rotated to a custodial one (only custodial to the party's own may change the mode)",
        to_custodial,
    )

    def withheld(d: dict[str, Any]) -> None:
        d["entries"][private]["payload"] = None

    case("full-export-withholds", f"/entries/{private}", "a full export withholds a payload", withheld)

    def leaked(d: dict[str, Any]) -> None:
        d["entries"][private] = copy.deepcopy(full["entries"][private])

    case(
        "party-export-leaks",
        f"/entries/{private}",
        "russia's export carries an entry outside its audience (statement and payload) instead of its placeholder",
        leaked,
        base=party,
    )

    def statement_leaked(d: dict[str, Any]) -> None:
        d["entries"][private] = copy.deepcopy(full["entries"][private]) | {"payload": None}

    case(
        "party-export-statement",
        f"/entries/{private}",
        "russia's export carries the statement of an entry outside its audience (payload withheld, as version 1 did)",
        statement_leaked,
        base=party,
    )

    def placeholder_hash(d: dict[str, Any]) -> None:
        old = d["entries"][private]["hash"]
        d["entries"][private]["hash"] = ("1" if old[0] != "1" else "2") + old[1:]

    case(
        "placeholder-hash-edited",
        f"/entries/{private + 1}",
        "a placeholder's hash changed: the next entry's link names it",
        placeholder_hash,
        base=party,
    )
    case(
        "placeholder-dropped",
        f"/entries/{private}",
        "a placeholder removed",
        lambda d: d["entries"].pop(private),
        base=party,
    )

    def placeholder_extra(d: dict[str, Any]) -> None:
        d["entries"][private]["kind"] = "message.posted"

    case(
        "placeholder-extra-field",
        f"/entries/{private}",
        "a placeholder carrying more than seq, prev and hash",
        placeholder_extra,
        base=party,
    )

    def full_placeholder(d: dict[str, Any]) -> None:
        d["entries"][private] = copy.deepcopy(party["entries"][private])

    case("full-export-placeholder", f"/entries/{private}", "a full export holding a placeholder", full_placeholder)

    def truncated(d: dict[str, Any]) -> None:
        d["checkpoints"].pop()

    case("last-checkpoint-removed", "/checkpoints", "entries after the last checkpoint (truncation)", truncated)

    def cp_sig(d: dict[str, Any]) -> None:
        d["checkpoints"][0]["sig"] = d["checkpoints"][1]["sig"]

    case("checkpoint-signature", "/checkpoints/0", "a checkpoint signature that does not verify", cp_sig)

    def note_root(d: dict[str, Any]) -> None:
        lines = d["checkpoints"][0]["note"].split("\n")
        lines[2] = lines[2][:-3] + ("A" if lines[2][-3] != "A" else "B") + lines[2][-2:]
        d["checkpoints"][0]["note"] = "\n".join(lines)

    case("tree-head-root-edited", "/checkpoints/0", "a signed tree head's root hash edited", note_root)

    def unsigned_key_entry(d: dict[str, Any]) -> None:
        d["entries"][reg]["key"] = d["entries"][reg]["sig"] = None
        forge(d, seeds)

    case("key-entry-unsigned", f"/entries/{reg}", "a key entry without its own signature", unsigned_key_entry)

    def batch_edited(d: dict[str, Any]) -> None:
        entry = d["entries"][private]
        entry["payload"] = entry["payload"].replace("private", "changed")
        entry["statement"]["payload_sha256"] = sha256_hex(entry["payload"].encode())
        prev = "0" * 64
        for raw in d["entries"]:
            raw["prev"] = prev
            prev = _entry_hash(raw)

    first_cp_covering = next(i for i, c in enumerate(full["checkpoints"]) if c["seq"] > private)
    case(
        "batch-entry-edited-relinked",
        f"/checkpoints/{first_cp_covering}",
        "an entry without its own signature edited and the chain re-linked: the signed head tells",
        batch_edited,
    )

    def extra_top(d: dict[str, Any]) -> None:
        d["comment"] = "x"

    case("file-extra-field", "", "the export's field set is closed", extra_top)
    case("file-version-4", "", "an unknown export version", lambda d: d.update(version=4))
    return out


def main() -> int:
    """Regenerate the vectors in this folder."""
    seeds = Seeds()
    with tempfile.TemporaryDirectory() as folder:
        ledger, before_switch, party_before_switch = build(Path(folder), seeds)
        full = ledger.export_document()
        party = ledger.export_document(for_party="russia")
        ledger._db.engine.dispose()
    expected = []
    for name, doc, at, what in vectors(full, party, before_switch, party_before_switch, seeds):
        (HERE / f"{name}.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        expected.append({"file": f"{name}.json", "verdict": "ok" if at is None else "bad", "at": at, "shows": what})
    (HERE / "expected.json").write_text(json.dumps({"vectors": expected}, indent=1) + "\n", encoding="utf-8")
    print(f"{len(expected)} vectors written to {HERE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
