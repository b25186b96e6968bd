"""What docs/record.md fixes and both sides of the record use: the writer (``Ledger``) and the verifier.

The export's format name and versions, the proof files' formats, the key entries' kinds and payload
fields, and the need-to-know rule that decides what a party's export holds whole. Kept apart from
the verifier so that the ledger, its proofs and the service's policy name them without importing
the verifier's checks.
"""

from __future__ import annotations

from keepclear.domain.event_kinds import EventKind
from keepclear.ledger.model import Statement

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
