"""Signed tree heads as C2SP ``tlog-checkpoint`` signed notes, and witness cosignatures.

A checkpoint note (https://c2sp.org/tlog-checkpoint, https://c2sp.org/signed-note)::

    keepclear.ledger/3f2a9c0d11e4b7a6       <- origin
    1234                                     <- tree size, decimal
    b64(root hash)                           <- standard base64, padded
                                             <- blank line ends the text
    — keepclear.ledger/3f2a9c0d11e4b7a6 b64(key hash (4 bytes) || Ed25519 signature (64 bytes))

The signature covers the text up to and including the newline before the blank line. The key hash
is the first 4 bytes of ``SHA-256(name || 0x0A || 0x01 || raw public key)`` (0x01: Ed25519); a
verifier key is written ``name+<key hash hex>+b64(0x01 || public key)`` (a "vkey").

A witness cosignature (https://c2sp.org/tlog-cosignature) is another signature line on the same
note: key hash over ``name || 0x0A || 0x04 || public key``, signature bytes ``timestamp (8 bytes,
big-endian seconds) || Ed25519 signature`` over ``"cosignature/v1\\ntime <timestamp>\\n" || text``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from keepclear.ledger.canonical import b64decode, b64encode
from keepclear.ledger.keys import Ed25519PrivateKey, Ed25519PublicKey, raw_public_key, signature_bytes_valid

ORIGIN_PREFIX = "keepclear.ledger/"
_SIG_PREFIX = "\u2014 "  # em dash, space
_NAME_RE = re.compile(r"^[\x21-\x2a\x2c-\x7e]+$")  # printable ASCII, no space, no '+'
ED25519 = 0x01
COSIGNATURE = 0x04
#: The largest tree size a note may state: a store keeps sizes (and seqs) as signed 64-bit integers.
MAX_TREE_SIZE = 2**63 - 1
#: The latest cosignature time (seconds) kept: a store keeps it in microseconds, a signed 64-bit integer.
MAX_COSIGNATURE_TIME_S = (2**63 - 1) // 1_000_000


def origin_of(genesis_key_id: str) -> str:
    """The log's origin (and signing key name): fixed by the genesis key, so it survives rotations."""
    return ORIGIN_PREFIX + genesis_key_id.removeprefix("ed25519:")


def key_hash(name: str, public_key: Ed25519PublicKey, alg: int = ED25519) -> bytes:
    """First 4 bytes of ``SHA-256(name || 0x0A || alg || raw public key)``."""
    return hashlib.sha256(name.encode("utf-8") + b"\n" + bytes([alg]) + raw_public_key(public_key)).digest()[:4]


def vkey(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key text of an Ed25519 key."""
    return f"{name}+{key_hash(name, public_key).hex()}+{b64encode(bytes([ED25519]) + raw_public_key(public_key))}"


def parse_vkey(text: str) -> tuple[str, Ed25519PublicKey]:
    """``(name, public key)`` of a vkey; ``ValueError`` when it is not one (or its hash is wrong)."""
    parts = text.strip().split("+", 2)  # the base64 key may itself hold '+'; name and hash never do
    if len(parts) != 3 or not _NAME_RE.match(parts[0]):
        raise ValueError("vkey: not name+hash+key")
    raw = b64decode(parts[2], "vkey")
    if len(raw) != 33 or raw[0] != ED25519:
        raise ValueError("vkey: not an Ed25519 key")
    public_key = Ed25519PublicKey.from_public_bytes(raw[1:])
    if key_hash(parts[0], public_key).hex() != parts[1]:
        raise ValueError("vkey: key hash does not match")
    return parts[0], public_key


@dataclass(frozen=True, slots=True)
class TreeHead:
    """The text of a checkpoint: origin, tree size, root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        """The signed text (three lines, each ending in a newline)."""
        return f"{self.origin}\n{self.size}\n{b64encode(self.root)}\n"


@dataclass(frozen=True, slots=True)
class SignatureLine:
    """One signature line of a note."""

    name: str
    key_hash: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Note:
    """A parsed checkpoint note."""

    head: TreeHead
    text: str
    signatures: tuple[SignatureLine, ...]

    def signed_by(self, name: str, public_key: Ed25519PublicKey) -> bool:
        """True when a line of ``name`` with this key's hash carries a valid Ed25519 note signature."""
        want = key_hash(name, public_key)
        return any(
            line.name == name
            and line.key_hash == want
            and signature_bytes_valid(public_key, self.text.encode("utf-8"), line.signature)
            for line in self.signatures
        )

    def cosigned_by(self, name: str, public_key: Ed25519PublicKey) -> int | None:
        """The timestamp of a valid ``cosignature/v1`` by this key, or None."""
        found = self.cosignature(name, public_key)
        return None if found is None else found[0]

    def cosignature(self, name: str, public_key: Ed25519PublicKey) -> tuple[int, SignatureLine] | None:
        """The timestamp and the line of the first valid ``cosignature/v1`` by this key, or None (a line
        of the same name and key hash that does not verify is passed over)."""
        want = key_hash(name, public_key, COSIGNATURE)
        for line in self.signatures:
            if line.name == name and line.key_hash == want and len(line.signature) == 72:
                timestamp = int.from_bytes(line.signature[:8], "big")
                message = cosigned_message(self.text, timestamp)
                if signature_bytes_valid(public_key, message, line.signature[8:]):
                    return timestamp, line
        return None


def cosigned_message(text: str, timestamp: int) -> bytes:
    """What a ``cosignature/v1`` signs."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


def _line(name: str, hash4: bytes, signature: bytes) -> str:
    return f"{_SIG_PREFIX}{name} {b64encode(hash4 + signature)}\n"


def sign_head(head: TreeHead, private_key: Ed25519PrivateKey) -> str:
    """The checkpoint note of ``head`` signed by the log key (its name is the origin)."""
    text = head.text()
    hash4 = key_hash(head.origin, private_key.public_key())
    return text + "\n" + _line(head.origin, hash4, private_key.sign(text.encode("utf-8")))


def cosign(note_text: str, name: str, private_key: Ed25519PrivateKey, timestamp: int) -> str:
    """``note_text`` with a ``cosignature/v1`` line of witness ``name`` added at ``timestamp`` (seconds)."""
    note = parse_note(note_text)
    signature = private_key.sign(cosigned_message(note.text, timestamp))
    hash4 = key_hash(name, private_key.public_key(), COSIGNATURE)
    return note_text + _line(name, hash4, timestamp.to_bytes(8, "big") + signature)


def parse_note(value: object) -> Note:
    """Parse a checkpoint note; ``ValueError`` saying what is wrong (C2SP grammar, strictly)."""
    if not isinstance(value, str):
        raise ValueError("not a string")
    text, sep, rest = value.partition("\n\n")
    if not sep or not rest.endswith("\n"):
        raise ValueError("not a signed note (text, blank line, signature lines ending in a newline)")
    lines = text.split("\n")
    if len(lines) != 3:
        raise ValueError("a checkpoint is exactly origin, size and root hash (no extension lines here)")
    origin, size_text, root_text = lines
    if not origin or not _NAME_RE.match(origin):
        raise ValueError("origin: empty, or has a space or '+'")
    if not re.fullmatch(r"0|[1-9][0-9]{0,18}", size_text):
        raise ValueError("tree size: not a decimal without leading zeros")
    if int(size_text) > MAX_TREE_SIZE:
        raise ValueError(f"tree size: {size_text} is past the largest a log holds ({MAX_TREE_SIZE})")
    root = b64decode(root_text, "root hash")
    if len(root) != 32:
        raise ValueError("root hash: not 32 bytes")
    signatures = []
    for line in rest[:-1].split("\n"):
        if not line.startswith(_SIG_PREFIX):
            raise ValueError("a signature line starts with an em dash and a space")
        name, space, encoded = line[len(_SIG_PREFIX) :].partition(" ")
        if not space or not _NAME_RE.match(name):
            raise ValueError("signature line: name then base64")
        raw = b64decode(encoded, "signature line")
        if len(raw) < 5:
            raise ValueError("signature line: too short")
        signatures.append(SignatureLine(name, raw[:4], raw[4:]))
    return Note(TreeHead(origin, int(size_text), root), text + "\n", tuple(signatures))
