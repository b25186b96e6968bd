"""A deployment: the database, clock and event bus, and the services built on them.

Built explicitly from ``Settings`` (no globals), by the CLI and by ``create_app`` alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from keepclear.domain.events import Clock
from keepclear.errors import ValidationError
from keepclear.services.record.signer import RecordSigner, ledger_for, signer_for
from keepclear.services.registry.keys import KeyService
from keepclear.services.registry.service import RegistryService
from keepclear.services.runtime.bus import EventBus, WallClock
from keepclear.services.zones.proposals import ZoneProposals
from keepclear.services.zones.service import ZoneService
from keepclear.services.zones.undrawable import UndrawableZones
from keepclear.settings import Settings
from keepclear.store import Database, migrate


@dataclass
class Deployment:
    """Everything one keepclear deployment runs on; each service is built once, on first use."""

    settings: Settings
    db: Database
    clock: Clock
    bus: EventBus = field(default_factory=EventBus)

    @classmethod
    def open(cls, settings: Settings, *, clock: Clock | None = None, create: bool = False) -> Deployment:
        """Open the deployment ``settings`` names; with ``create``, make it (and migrate) first."""
        db = Database(settings.resolved_database_url())
        if create:
            settings.data_dir.mkdir(parents=True, exist_ok=True)
            migrate(db)
        else:
            db.require_schema()
        return cls(settings=settings, db=db, clock=clock or WallClock(), bus=bus_for(settings))

    @cached_property
    def registry(self) -> RegistryService:
        """Parties, forces, units."""
        return RegistryService(self.db, self.clock, self.bus)

    @cached_property
    def zones(self) -> ZoneService:
        """Shared geography."""
        return ZoneService(self.db, self.clock, self.bus, self.settings.input_limits(), self.undrawable_zones)

    @cached_property
    def undrawable_zones(self) -> UndrawableZones:
        """The stored zones this process found it cannot draw (left out by every reader that draws)."""
        return UndrawableZones()

    @cached_property
    def zone_proposals(self) -> ZoneProposals:
        """Shapes a party drew (on its TAK) for an admin to accept as zones or refuse."""
        return ZoneProposals(
            self.db,
            self.clock,
            self.zones,
            self.bus,
            max_pending_per_party=self.settings.max_pending_zone_proposals_per_party,
        )

    @cached_property
    def keys(self) -> KeyService:
        """API keys."""
        return KeyService(self.db, self.clock, self.bus, outage_grace_s=self.settings.store_outage_key_grace_s)

    def sign_writes(self) -> RecordSigner:
        """Sign the record entries this process stages as soon as their events are published.

        For the CLI, whose bus delivers synchronously: ``keepclear activity notify`` returns with
        its entries in the ledger. Whatever it could not sign waits in the outbox for the service.
        (A running service's ``Runtime`` has a signer of its own.)
        """
        # Imported here: the runtime's configuration reaches the probe (numba), which a CLI command's
        # help must not load.
        from keepclear.services.runtime.config import RuntimeConfig

        config = RuntimeConfig.from_settings(self.settings).record
        signer = signer_for(self.db, ledger_for(self.db, self.clock, config), config)
        self.bus.subscribe_batches(signer.record)
        return signer

    def close(self) -> None:
        """Send what the bus still holds and release the database connections."""
        self.bus.close()
        self.db.dispose()


#: What a deployment given ``bus_url`` without the ``cluster`` extra is told.
MISSING_NATS = "the bus across processes needs nats-py: install keepclear with the cluster extra (pip install 'keepclear[cluster]')"


def bus_for(settings: Settings) -> EventBus:
    """The in-process bus, or with ``bus_url`` the bus across processes on NATS JetStream (connected)."""
    if not settings.bus_url:
        return EventBus(max_queued_events=settings.event_queue_events)
    # Imported here: nats-py is the cluster extra's, and one process never needs it.
    try:
        from keepclear.services.runtime.nats_bus import NatsBus
    except ImportError:
        raise ValidationError([f"bus_url: {MISSING_NATS}"]) from None

    return NatsBus(
        [url.strip() for url in settings.bus_url.split(",") if url.strip()],
        max_queued_events=settings.event_queue_events,
        replicas=settings.bus_replicas,
        max_outgoing_events=settings.bus_outgoing_events,
    ).connect()
