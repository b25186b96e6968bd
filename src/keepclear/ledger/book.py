"""The ledger of a deployment: append signed entries, checkpoint the head, rotate keys, export.

``Ledger`` is one object assembled from its parts, one concept a module, all on the state and write
path of ``core.LedgerCore`` (the head, the genesis, who signs an entry, checkpoints):

- ``appends``: ``append``, ``append_many``, ``append_many_in`` (``writing``);
- ``custody``: admission, custodial and strong modes, key rotation (``admit``, ``mode``,
  ``register_public_key``, ``rotate_key``, ``custodial_key``);
- ``submissions``: a strong-mode party's signed submissions (``check_request``,
  ``verify_submission``, ``append_submission``);
- ``heads``: signed heads and proofs (``checkpoint``, ``latest_head``, ``heads``,
  ``inclusion_proof``, ``consistency_proof``, ...);
- ``witnessing``: parties' cosignatures of signed heads (``add_cosignature``, ``cosignatures``);
- ``export``: reading it out (``entries``, ``export_document``, ``export_text`` streamed).
"""

from __future__ import annotations

from keepclear.ledger.appends import Appends
from keepclear.ledger.batch import EntryDraft as EntryDraft  # where callers have always found it
from keepclear.ledger.export import Exports
from keepclear.ledger.submissions import Submissions
from keepclear.ledger.witnessing import Witnessing


class Ledger(Appends, Submissions, Witnessing, Exports):
    """The append-only signed log of one deployment (see the module docstring and ``core``'s)."""
