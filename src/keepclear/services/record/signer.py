"""The shared record wired to a deployment: the ledger it keeps, the outbox writers stage into, the signer.

How an entry reaches the ledger:

1. A writer (any service, whatever the entry point: HTTP, CLI, replay, a feed) calls ``stage(conn,
   events)`` (``staging``) inside the transaction that changes the state: the events the record keeps become
   outbox rows that commit with the change, or not at all.
2. After the commit the writer publishes the events on the bus as before. The ``RecordSigner``
   subscribes: it drains the outbox into the ledger (one transaction appends the entries and deletes
   their rows, so each row becomes exactly one entry), so a caller that waits for delivery reads its
   own entries in the record.
3. Its own thread (``start``) drains at startup, which heals a crash between a commit and its
   signing, then whenever woken and every ``record_poll_s`` (rows other processes staged).

Events of state kept only in memory (the probe's alerts, ``IN_MEMORY_KINDS``) have no transaction
to join: the signer appends them when the bus delivers them, together with the outbox rows.

A ``party.added`` entry admits its party: the ledger registers the party's custodial key in the same
transaction, just before it (``EntryDraft.admits``), so every party's key entry dates its admission
(an admin act its audience learns of anyway), never its first action. At the start of its thread
the signer admits the parties that have no key yet (those of a deployment older than this).

A row the ledger refuses is tried again after 1, 2, 4... s (at most 60 s) and parked as failed after
``max_attempts``; parked rows stay in the outbox and are shown (``status``: metrics and health).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.engine import Connection

from keepclear.domain.events import Clock, Event
from keepclear.errors import StoreUnavailableError
from keepclear.ledger import KeyFolder, Ledger, LedgerConfig
from keepclear.ledger.book import EntryDraft
from keepclear.services.record.staging import draft_of, in_memory, recorded, row_draft, staged_row
from keepclear.store import ledger as ledger_store
from keepclear.store import outbox
from keepclear.store import registry as registry_store
from keepclear.store.database import Database

#: Folder of the custodial keys inside the data directory.
KEY_FOLDER_NAME = "ledger-keys"

#: Rows one signing transaction takes (a probe tick's storm goes in a few of them).
SIGN_BATCH = 2_000
#: Seconds between the tries of a refused row: 1, 2, 4... up to this.
MAX_RETRY_DELAY_S = 60.0

_log = logging.getLogger("keepclear.record")


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


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """Where the deployment's ledger keys live, how the ledger checkpoints, how the outbox is signed.

    ``data_dir``: the deployment folder (custodial keys in ``data_dir/ledger-keys``);
    ``key_passphrase``: encrypts them at rest when set; ``max_attempts``, ``poll_s``: see ``RecordSigner``.
    """

    data_dir: Path
    key_passphrase: bytes | None = field(default=None, repr=False)
    ledger: LedgerConfig = field(default_factory=LedgerConfig)
    max_attempts: int = 5
    poll_s: float = 0.5


def ledger_for(db: Database, clock: Clock, config: RecordConfig) -> Ledger:
    """The ledger ``config`` describes (key folder, passphrase, checkpoints)."""
    return open_ledger(db, clock, config.data_dir, passphrase=config.key_passphrase, config=config.ledger)


def signer_for(
    db: Database, ledger: Ledger, config: RecordConfig, active: Callable[[], bool] | None = None
) -> RecordSigner:
    """The outbox signer ``config`` describes (``active``: see ``RecordSigner``)."""
    return RecordSigner(db, ledger, max_attempts=config.max_attempts, poll_s=config.poll_s, active=active)


@dataclass(frozen=True, slots=True)
class RecordStatus:
    """What the signer shows: the backlog (rows waiting, parked as failed, age of the oldest waiting
    one), entries signed, failed tries and drains, events it could not keep, the last error, and the
    most rows the outbox holds (``outbox.OUTBOX_MAX_ROWS``: past it writes are refused)."""

    waiting: int
    failed: int
    oldest_age_s: float
    signed_total: int
    retries_total: int
    drain_failures_total: int
    dropped_total: int
    last_error: str | None
    outbox_limit: int = outbox.OUTBOX_MAX_ROWS


class RecordSigner:
    """Drains the outbox into the ledger (see the module docstring); subscribe ``record`` to the bus."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        *,
        max_attempts: int = 5,
        poll_s: float = 0.5,
        batch: int = SIGN_BATCH,
        active: Callable[[], bool] | None = None,
    ) -> None:
        """``active``: asked before each drain of the signer's thread whether this process is the one
        that signs (the deployment's leadership of the signer role: one process of several on one
        PostgreSQL; a standby keeps asking every ``poll_s`` and takes over when it is told yes).
        None: always (one process)."""
        self._db = db
        self._ledger = ledger
        self._max_attempts = max_attempts
        self._poll_s = poll_s
        self._batch = batch
        self._lock = threading.Lock()  # the counters
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._active = active
        self._admitted = False  # the parties without a key were admitted (``admit_parties``)
        #: This process signs (the last answer of ``active``); a standby stages what it is handed.
        self.is_active = active is None
        self.signed_total = 0
        self.retries_total = 0
        self.drain_failures_total = 0
        self.dropped_total = 0
        self.last_error: str | None = None
        #: The last drain failed (the database was away, or the ledger refused): shown in health.
        self.failing = False

    # -- the bus side ---------------------------------------------------------------------
    def __call__(self, event: Event) -> None:
        """Bus subscriber for single events: ``record((event,))``."""
        self.record((event,))

    def record(self, events: Sequence[Event]) -> None:
        """Bus subscriber: after a batch with recorded kinds, sign what waits in the outbox (and the
        batch's in-memory events) at once, so a publisher that waits reads its entries in the record."""
        extra = [draft_of(e) for e in events if recorded(e.kind) and in_memory(e.kind)]
        if not extra and not any(recorded(e.kind) for e in events):
            return
        if not self.is_active:  # a standby: the active signer (another process) takes them from the outbox
            self._keep(extra)
            return
        try:
            taken = self.drain_once(extra)
        except StoreUnavailableError as exc:  # the bus holds this batch and hands it again later
            self._count_drain_failure(exc)
            raise
        except Exception as exc:
            self._count_drain_failure(exc)
            self._keep(extra)
            self._wake.set()
            raise
        self.failing = False
        if taken >= self._batch:
            self._wake.set()  # more waits: the signer's thread takes it on

    # -- draining -------------------------------------------------------------------------
    def drain_once(self, extra: Sequence[EntryDraft] = ()) -> int:
        """One transaction: append up to ``batch`` due outbox rows (then ``extra``) and delete the rows.

        Returns how many rows were taken. Should the batch fail, it is rolled back and each row is
        tried alone in a second transaction: a refused row is postponed (or parked) and ``extra``
        drafts that are refused are kept in the outbox to be tried again.
        """
        now_s = time.time()
        try:
            with self._ledger.writing() as conn:
                rows = self._take(conn, now_s)
                if not rows and not extra:
                    return 0
                self._ledger.append_many_in(conn, [*(row_draft(row) for row in rows), *extra])
                outbox.remove(conn, [row.id for row in rows])
                signed = len(rows) + len(extra)
        except Exception as exc:
            _log.warning("record: a batch of entries was refused (%s); trying each alone", exc)
            with self._ledger.writing() as conn:
                rows = self._take(conn, now_s)
                signed = self._one_by_one(conn, rows, [row_draft(row) for row in rows], extra, now_s)
        with self._lock:
            self.signed_total += signed
        return len(rows)

    def _take(self, conn: Connection, now_s: float) -> list[outbox.StagedEntry]:
        ledger_store.lock_head(conn)  # one drainer at a time, in this process and across processes
        return outbox.take(conn, now_s, self._batch)

    def _one_by_one(
        self,
        conn: Connection,
        rows: list[outbox.StagedEntry],
        drafts: list[EntryDraft],
        extra: Sequence[EntryDraft],
        now_s: float,
    ) -> int:
        signed = 0
        for row, draft in zip(rows, drafts, strict=True):
            try:
                with conn.begin_nested():
                    self._ledger.append_many_in(conn, [draft])
                outbox.remove(conn, [row.id])
                signed += 1
            except Exception as exc:
                attempts = row.attempts + 1
                delay_s = min(MAX_RETRY_DELAY_S, 2.0 ** (attempts - 1))
                parked = attempts >= self._max_attempts
                outbox.postpone(conn, row.id, f"{type(exc).__name__}: {exc}", now_s + delay_s, failed=parked)
                self._count_retry(row, exc, parked)
        kept = []
        for draft in extra:
            try:
                with conn.begin_nested():
                    self._ledger.append_many_in(conn, [draft])
                signed += 1
            except Exception:
                kept.append(draft)
        if kept:  # at most one delivery's worth, inside the drain: not refused (it would fail the drain)
            outbox.stage(conn, [staged_row(d) for d in kept], now_s, max_rows=None)
        return signed

    def drain(self, max_rounds: int = 1_000) -> int:
        """Drain until nothing is due (at most ``max_rounds`` transactions); returns rows taken."""
        total = 0
        for _ in range(max_rounds):
            taken = self.drain_once()
            total += taken
            if taken < self._batch:
                break
        return total

    def admit_parties(self) -> list[str]:
        """Register a custodial key for every party of the deployment that has none; returns them.

        Parties admitted since keys come with ``party.added`` have one; those of a deployment made
        by an older version that never acted have none (those that acted got theirs at their first
        entry). Their keys are registered together, in party id order, when the signer starts, so
        they date the upgrade, not anything a party did.
        """
        with self._db.read() as conn:
            parties = [party.id for party in registry_store.list_parties(conn)]
        return self._ledger.admit(parties)

    def _keep(self, extra: Sequence[EntryDraft]) -> None:
        """In-memory events whose signing failed: into the outbox for a later try, else counted as lost."""
        if not extra:
            return
        try:
            with self._db.write() as conn:
                outbox.stage(conn, [staged_row(d) for d in extra], time.time())
        except StoreUnavailableError:
            raise  # not lost: the bus holds the batch through the outage and hands it again
        except Exception as exc:
            with self._lock:
                self.dropped_total += len(extra)
            _log.error("record: %d in-memory events could not be kept: %s", len(extra), exc)

    def _count_retry(self, row: outbox.StagedEntry, exc: BaseException, parked: bool) -> None:
        with self._lock:
            self.retries_total += 1
            self.last_error = f"{row.kind} (outbox {row.id}): {type(exc).__name__}: {exc}"[:500]
        log = _log.error if parked else _log.warning
        log("record: outbox entry %s (%s) refused%s: %s", row.id, row.kind, " and parked" if parked else "", exc)

    def _count_drain_failure(self, exc: BaseException) -> None:
        self.failing = True
        with self._lock:
            self.drain_failures_total += 1
            self.last_error = f"drain: {type(exc).__name__}: {exc}"[:500]
        if isinstance(exc, StoreUnavailableError):  # an outage: one line, not a trace a try
            _log.warning("record: draining the outbox failed: %s", getattr(exc, "cause", exc))
        else:
            _log.exception("record: draining the outbox failed")

    # -- the signer's thread --------------------------------------------------------------
    def start(self) -> None:
        """Drain now and from then on on a thread of its own: woken by ``wake``, else every ``poll_s``."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._wake.set()  # drain at once: heals a crash between a commit and its signing
        self._thread = threading.Thread(target=self._run, name="keepclear-record", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Have the thread drain now."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread after a last drain."""
        thread = self._thread
        if thread is None:
            return
        self._stop.set()
        self._wake.set()
        thread.join(timeout=30)
        self._thread = None

    def _run(self) -> None:
        failures = 0
        while True:
            self._wake.wait(self._poll_s * (2 ** min(failures, 5)))
            self._wake.clear()
            if self._active is not None:
                self.is_active = self._active()
                if not self.is_active:
                    if self._stop.is_set():
                        return
                    continue
            try:
                if not self._admitted:
                    admitted = self.admit_parties()
                    if admitted:
                        _log.info("record: registered the keys of %d parties without one", len(admitted))
                    self._admitted = True
                self.drain()
                failures = 0
                self.failing = False
            except Exception as exc:  # the database may be away a moment: back off, try again
                failures += 1
                self._count_drain_failure(exc)
            if self._stop.is_set():
                return

    # -- what it shows --------------------------------------------------------------------
    def status(self) -> RecordStatus:
        """The backlog (read now) and the counters."""
        with self._db.read() as conn:
            backlog = outbox.backlog(conn)
        age_s = 0.0 if backlog.oldest_staged_s is None else max(0.0, time.time() - backlog.oldest_staged_s)
        with self._lock:
            return RecordStatus(
                backlog.waiting,
                backlog.failed,
                age_s,
                self.signed_total,
                self.retries_total,
                self.drain_failures_total,
                self.dropped_total,
                self.last_error,
            )
