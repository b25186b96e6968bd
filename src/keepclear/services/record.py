"""The shared record wired to a deployment: the ledger it keeps and the recorder on its bus."""

from __future__ import annotations

from pathlib import Path

from keepclear.domain.events import Clock, Event
from keepclear.ledger import KeyFolder, Ledger, LedgerConfig
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
    audience is the event's parties (everyone when the event names none).
    """

    def __init__(self, ledger: Ledger, prefixes: tuple[str, ...] = RECORDED_PREFIXES) -> None:
        self._ledger = ledger
        self._prefixes = prefixes

    def __call__(self, event: Event) -> None:
        """Record ``event`` when its kind is one the ledger keeps."""
        if not event.kind.startswith(self._prefixes) or event.kind in PUBLIC_KINDS:
            return
        self._ledger.append(
            event.kind,
            event.party_id,
            event.payload,
            time_s=event.time_s,
            audience=sorted(event.parties) if event.parties else None,
        )
