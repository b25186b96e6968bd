"""Ed25519 keys: ids, signing, verification, and the custodial key folder.

Custodial keys (the deployment's own, and those of parties in custodial mode) are PKCS#8 PEM files in
one folder of the data directory, created with mode 0600 in a 0700 folder. When a passphrase is
given (``KEEPCLEAR_LEDGER_KEY_PASSPHRASE`` at the edge) they are also encrypted at rest
(PKCS#8 with the best encryption ``cryptography`` offers); without one they are plain but readable
only by the deployment's user. A party in strong mode keeps its private key itself: only its public
key is ever stored here (in the ledger).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from keepclear.errors import KeepclearError
from keepclear.ledger.canonical import b64decode, b64encode, sha256_hex

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "KeyFolder",
    "key_id_of",
    "public_key_b64",
    "public_key_from_b64",
    "raw_public_key",
    "sign_b64",
    "signature_bytes_valid",
    "signature_valid",
]


def public_key_b64(public_key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key in base64."""
    return b64encode(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))


def public_key_from_b64(text: str, field: str = "public_key") -> Ed25519PublicKey:
    """Read a raw base64 Ed25519 public key; ``ValueError`` naming ``field`` when it is not one."""
    raw = b64decode(text, field)
    if len(raw) != 32:
        raise ValueError(f"{field}: an Ed25519 public key is 32 bytes, not {len(raw)}")
    return Ed25519PublicKey.from_public_bytes(raw)


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """A short stable id: ``ed25519:`` and the first 16 hex digits of SHA-256 of the raw key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + sha256_hex(raw)[:16]


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def signature_bytes_valid(public_key: Ed25519PublicKey, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (raw bytes) is a valid signature of ``data`` by ``public_key``."""
    try:
        public_key.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def sign_b64(private_key: Ed25519PrivateKey, data: bytes) -> str:
    """Ed25519 signature of ``data``, base64."""
    return b64encode(private_key.sign(data))


def signature_valid(public_key: Ed25519PublicKey, data: bytes, signature_b64: str) -> bool:
    """True when ``signature_b64`` is a valid signature of ``data`` by ``public_key``."""
    try:
        public_key.verify(b64decode(signature_b64, "signature"), data)
    except (InvalidSignature, ValueError):
        return False
    return True


class KeyFolder:
    """The custodial private keys of a deployment, one PEM file per key id."""

    def __init__(
        self, folder: Path, passphrase: bytes | None = None, random_bytes: Callable[[int], bytes] = os.urandom
    ) -> None:
        """``random_bytes`` gives the 32-byte seeds of new keys (the OS's randomness unless a test seeds it)."""
        self._random_bytes = random_bytes
        self._folder = folder
        self._passphrase = passphrase or None

    def _path(self, key_id: str) -> Path:
        return self._folder / (key_id.replace(":", "_") + ".pem")

    def generate(self) -> Ed25519PrivateKey:
        """Make a new key pair and store the private key (0600); returns it."""
        self._folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self._folder, 0o700)
        private_key = Ed25519PrivateKey.from_private_bytes(self._random_bytes(32))
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(self._passphrase)
            if self._passphrase
            else serialization.NoEncryption()
        )
        pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        path = self._path(key_id_of(private_key.public_key()))
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
        return private_key

    def has(self, key_id: str) -> bool:
        """True when this deployment holds the private key ``key_id``."""
        return self._path(key_id).exists()

    def load(self, key_id: str) -> Ed25519PrivateKey:
        """The private key ``key_id``; ``KeepclearError`` when it is missing, unreadable or mismatched."""
        path = self._path(key_id)
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise KeepclearError(f"ledger key {key_id}: cannot read {path}: {exc.strerror}") from None
        try:
            private_key = serialization.load_pem_private_key(pem, password=self._passphrase)
        except (ValueError, TypeError) as exc:
            raise KeepclearError(f"ledger key {key_id}: cannot load {path} ({exc}); check the passphrase") from None
        if not isinstance(private_key, Ed25519PrivateKey) or key_id_of(private_key.public_key()) != key_id:
            raise KeepclearError(f"ledger key {key_id}: {path} holds a different key")
        return private_key

    def discard(self, key_id: str) -> None:
        """Delete the private key ``key_id`` (after rotation); missing is fine."""
        self._path(key_id).unlink(missing_ok=True)
