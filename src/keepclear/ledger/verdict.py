"""What verifying an export finds: the report, the keys the chain declares, the first problem.

Shared by the verifier's passes (``verify``: the file and its entries, ``verify_keys``: the key
history, ``verify_heads``: checkpoints and signed tree heads), which fill one ``VerifyReport`` and
stop at the first ``Bad``; a ``KeyRecord`` knows the seqs its key may sign (docs/record.md,
"Validity windows").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from keepclear.ledger.keys import Ed25519PublicKey
from keepclear.ledger.spec import EXPORT_VERSION


class Bad(Exception):
    """The first problem, and where it is: a JSON Pointer (RFC 6901) into the export."""

    def __init__(self, message: str, at: str) -> None:
        super().__init__(message)
        self.at = at


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
