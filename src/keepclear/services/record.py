"""The shared record wired to a deployment: the ledger it keeps and the recorder on its bus."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from keepclear.domain.events import Clock, Event
from keepclear.errors import ValidationError
from keepclear.ledger import KeyFolder, Ledger, LedgerConfig
from keepclear.ledger.book import EntryDraft
from keepclear.ledger.verify import PUBLIC_KINDS
from keepclear.store.database import Database

#: Event kinds the ledger records: notifications, acknowledgements, objections (activity.*), hotline
#: messages and receipts (message.*), alert changes (alert.*), escalations and availability
#: (hotline.*), parties (party.*), incidents (incident.*) and keys (key.*). Never track reports.
RECORDED_PREFIXES = ("activity.", "message.", "alert.", "hotline.", "party.", "incident.", "key.")

#: Folder of the custodial keys inside the data directory.
KEY_FOLDER_NAME = "ledger-keys"


def open_ledger(
    db: Database,
    clock: Clock,
    data_dir: Path,
    *,
    passphrase: bytes | None = None,
    config: LedgerConfig | None = None,
) -> Ledger:
    """The ledger of the deployment in ``data_dir`` (custodial keys in ``data_dir/ledger-keys``)."""
    return Ledger(db, KeyFolder(data_dir / KEY_FOLDER_NAME, passphrase), clock, config)


class LedgerRecorder:
    """Bus subscriber appending one ledger entry per recorded event (see ``RECORDED_PREFIXES``).

    The entry's kind, acting party and time are the event's; its payload is the event payload; its
    audience is the event's parties (everyone when the event names none). A published batch becomes
    one transaction (``record``); should the ledger refuse the batch, each event is tried alone so
    one bad payload costs only its own entry.
    """

    def __init__(self, ledger: Ledger, prefixes: tuple[str, ...] = RECORDED_PREFIXES) -> None:
        self._ledger = ledger
        self._prefixes = prefixes

    def __call__(self, event: Event) -> None:
        """Record ``event`` when its kind is one the ledger keeps."""
        self.record((event,))

    def record(self, events: Sequence[Event]) -> None:
        """Record every event of ``events`` the ledger keeps, in order, in one transaction."""
        drafts = [
            EntryDraft(
                event.kind,
                event.party_id,
                event.payload,
                event.time_s,
                sorted(event.parties) if event.parties else None,
            )
            for event in events
            if event.kind.startswith(self._prefixes) and event.kind not in PUBLIC_KINDS
        ]
        try:
            self._ledger.append_many(drafts)
        except ValidationError:
            if len(drafts) == 1:
                raise
            refusals = []
            for draft in drafts:
                try:
                    self._ledger.append_many([draft])
                except ValidationError as exc:
                    refusals.append(exc)
            if refusals:
                raise refusals[0] from None
