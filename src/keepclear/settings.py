"""Settings: one typed object, read from keyword arguments, ``KEEPCLEAR_*`` variables or a file.

Precedence, strongest first: explicit arguments, environment variables, the settings file (TOML),
defaults. Every field has a description; ``docs/settings.md`` documents each one (a test checks).
Nothing here is read at import time: the CLI and ``create_app`` build a ``Settings`` and pass it on.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

from keepclear.domain.activities import MAX_VERTICES
from keepclear.domain.limits import DEFAULT_LIMITS as _LIMITS
from keepclear.domain.limits import PERSON_MAX_CHARS, InputLimits
from keepclear.domain.minima import DEFAULT_MINIMA, DomainPair, SeparationMinima
from keepclear.errors import KeepclearError

#: Separates the levels of a nested setting in its environment variable: ``KEEPCLEAR_MINIMA__AIR_AIR__HORIZONTAL_M``.
ENV_NESTED_DELIMITER = "__"


class PairMinima(BaseModel):
    """One pair of domains' separation minima and lookahead (``minima.<pair>`` in the settings)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    horizontal_m: float = Field(gt=0, description="Horizontal separation minimum, metres.")
    vertical_m: float = Field(gt=0, description="Vertical separation minimum, metres (inf: no vertical criterion).")
    lookahead_s: float = Field(ge=0, le=7200, description="Conflict lookahead, seconds.")

    def separation(self) -> SeparationMinima:
        """The row the probe uses."""
        return SeparationMinima(self.horizontal_m, self.vertical_m, self.lookahead_s)


def default_minima() -> dict[DomainPair, PairMinima]:
    """Every pair's default minima (``domain.minima.DEFAULT_MINIMA``, the one table of them)."""
    return {
        pair: PairMinima(horizontal_m=row.horizontal_m, vertical_m=row.vertical_m, lookahead_s=row.lookahead_s)
        for pair, row in DEFAULT_MINIMA.items()
    }


class Settings(BaseSettings):
    """Everything a deployment can configure."""

    model_config = SettingsConfigDict(
        env_prefix="KEEPCLEAR_", env_nested_delimiter=ENV_NESTED_DELIMITER, extra="forbid", frozen=True
    )

    data_dir: Path = Field(
        Path("keepclear-data"),
        description="Folder of the deployment: the SQLite database and exported files live here.",
    )
    database_url: str | None = Field(
        None,
        description=(
            "SQLAlchemy URL of the database. Empty: the SQLite file keepclear.db in data_dir."
            " PostgreSQL: postgresql+psycopg://user@host:5432/dbname."
        ),
    )

    host: str = Field("127.0.0.1", description="Address `keepclear serve` listens on.")
    port: int = Field(8080, ge=0, le=65535, description="TCP port `keepclear serve` listens on.")
    reuse_port: bool = Field(
        False,
        description="Several `keepclear serve` processes listen on one host and port (SO_REUSEPORT: the kernel"
        " spreads new connections over them); for API processes sharing a bus and PostgreSQL.",
    )
    tick_s: float = Field(1.0, gt=0, le=60, description="Seconds between probe ticks inside the service.")
    max_body_bytes: int = Field(
        _LIMITS.max_body_bytes,
        ge=1024,
        description="Largest request body of one object (an activity, a message...), in bytes (413 above).",
    )
    max_batch_body_bytes: int = Field(
        _LIMITS.max_batch_body_bytes,
        ge=1024,
        description="Largest request body of a batch (track reports, activities), in bytes (413 above).",
    )
    max_body_bytes_in_flight_per_key: int = Field(
        64 * 1024 * 1024,
        ge=64 * 1024,
        description="Bytes of request bodies one API key may have read or being served at once in one API process;"
        " a request that would pass it gets 429 (one body of any allowed size always goes through).",
    )
    body_bytes_per_party_per_s: float = Field(
        1024 * 1024,
        gt=0,
        le=1e12,
        description="Bytes of request bodies one party's keys may send a second, sustained (per API process;"
        " track batches and the admin's keys aside): the refill rate of the party's token bucket of"
        " body_byte_burst, taken from a body's declared length before a byte of it is read (past it: 429 with"
        " Retry-After, the connection closed). Reading and parsing a body cost the interpreter in proportion to"
        " its bytes, whatever the route then decides: one party's bodies must not take the time that delivers"
        " the others' alerts.",
    )
    body_byte_burst: int = Field(
        32 * 1024 * 1024,
        ge=64 * 1024,
        le=10**12,
        description="Bytes of request bodies one party may send at once before body_bytes_per_party_per_s holds"
        " it back (the size of its token bucket); a body larger than it takes the whole bucket.",
    )
    max_json_depth: int = Field(
        _LIMITS.max_json_depth, ge=8, le=500, description="Deepest nesting of arrays and objects in JSON input."
    )
    max_message_data_bytes: int = Field(
        _LIMITS.max_message_data_bytes,
        ge=256,
        description="Largest hotline message `data`, in bytes of canonical JSON.",
    )
    max_person_chars: int = Field(
        _LIMITS.max_person_chars,
        ge=1,
        le=PERSON_MAX_CHARS,
        description="Longest `X-Keepclear-Person` header (or `person`), chars (at most the stores' 200).",
    )
    max_url_bytes: int = Field(
        _LIMITS.max_url_bytes, ge=256, description="Longest request target (path and query), in bytes (414 above)."
    )
    max_zone_file_bytes: int = Field(
        _LIMITS.max_zone_file_bytes,
        ge=1024,
        description="Largest zone file, bytes: `keepclear zones import`, POST /v1/zones, a zone proposal.",
    )
    max_zone_features: int = Field(_LIMITS.max_zone_features, ge=1, description="Most features in one zone import.")
    max_zone_vertices_per_feature: int = Field(
        _LIMITS.max_zone_vertices_per_feature, ge=4, description="Most vertices in one zone's geometry."
    )
    max_zone_vertices_total: int = Field(
        _LIMITS.max_zone_vertices_total, ge=4, description="Most vertices in one zone import, all features together."
    )
    max_problems_listed: int = Field(
        _LIMITS.max_problems_listed, ge=1, description="Problems listed in one refusal; the rest are counted."
    )
    minima: Mapping[DomainPair, PairMinima] = Field(
        default_factory=default_minima,
        description=(
            "Separation minima and conflict lookahead per pair of domains: minima.<pair>.horizontal_m,"
            " .vertical_m, .lookahead_s; a pair or key not given keeps its default."
        ),
    )
    air_air_alerting: Literal["minima", "do-365b-phase-i"] = Field(
        "minima",
        description=(
            "Air–air alert volumes: 'minima' (advisory 1.5x the air–air minima, caution the minima, warning the"
            " minima within a quarter of the lookahead) or 'do-365b-phase-i' (0.66 NM well clear); DO-365B"
            " hysteresis in both."
        ),
    )
    stale_air_s: float = Field(
        60.0, gt=0, description="Seconds without a report after which an air unit leaves the picture."
    )
    stale_land_s: float = Field(
        600.0, gt=0, description="Seconds without a report after which a land unit leaves the picture."
    )
    stale_sea_s: float = Field(
        600.0, gt=0, description="Seconds without a report after which a sea unit leaves the picture."
    )
    ingest_queue_reports: int = Field(
        1_000_000, ge=1000, description="Track reports the ingest queue holds before feeds get 429 (bounds memory)."
    )
    ingest_backlog_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="Seconds of the pump's own work the ingest queue may hold (at most tick_s): a batch that would"
        " make the queue take longer to move into the track table gets 429, so the probe never runs behind its feeds.",
    )
    ingest_max_future_s: float = Field(30.0, ge=0, description="How far in the future a report's time may be, seconds.")
    ingest_max_age_s: float = Field(600.0, gt=0, description="How old a report may be when it arrives, seconds.")
    event_queue_events: int = Field(
        200_000,
        ge=1000,
        description="Events waiting for the record, hotline and incidents (the bus's queue) before whoever publishes"
        " (the probe's tick too) waits for the dispatcher to catch up (bounds memory).",
    )
    bus_url: str | None = Field(
        None,
        description="NATS JetStream servers (nats://host:port, comma-separated) that carry events between keepclear"
        " processes; empty: the in-process bus (one process).",
    )
    bus_replicas: int = Field(3, ge=1, le=5, description="Replicas of the bus's JetStream stream (at most the nodes).")
    detect_in_workers: bool = Field(
        False,
        description="With bus_url: accepted track reports go to the bus by cell and `keepclear worker detect`"
        " processes probe and raise the alerts; this process probes no pair.",
    )
    detect_cell_deg: float = Field(
        10.0,
        ge=0.01,
        le=90,
        description="Height of the geographic cells detection is cut by (degrees); the same in every process.",
    )
    bus_outgoing_events: int = Field(
        100_000,
        ge=100,
        description="Events waiting to be sent on the bus; past it events are not sent to other processes (counted).",
    )
    stream_client_backlog_events: int = Field(
        10_000,
        ge=10,
        description="Events one /v1/stream client may have waiting to be sent; a client that falls this far behind is"
        " disconnected (it reconnects with Last-Event-ID and catches up).",
    )
    hotline_client_backlog_items: int = Field(
        50_000,
        ge=10,
        description="Deliveries (one commit's messages, a receipt, an availability change) one hotline socket may have"
        " waiting to be sent (and at most 64 MiB of them); past it the client gets an overflow frame and is"
        " disconnected (it resumes from its cursors).",
    )
    hotline_max_pending_post_bytes: int = Field(
        64 << 20,
        ge=1 << 20,
        description="Bytes (UTF-8, as sent) of the post frames one hotline socket may have waiting for their commit; past"
        " it, as past 20,000 posts, the socket is read no further until they commit (TCP pushes back).",
    )
    stream_send_timeout_s: float = Field(
        30.0,
        gt=0,
        le=3600,
        description="Longest a send to a /v1/stream or hotline socket client may wait for the client to read; a client"
        " that does not read for this long is disconnected.",
    )
    max_streams_per_key: int = Field(
        8,
        ge=1,
        le=10_000,
        description="/v1/stream connections one API key may hold open in one API process, and as many hotline"
        " sockets; past it a new one is refused (429, or the socket closed with a reason).",
    )
    max_connections: int = Field(
        4096,
        ge=1,
        le=1_000_000,
        description="TCP connections one API process holds open at once (HTTP, streams, hotline sockets); past it a new"
        " one is closed as soon as it is accepted. Keep it below the process's file descriptor limit.",
    )
    header_timeout_s: float = Field(
        10.0,
        gt=0,
        le=300,
        description="Longest a request's headers may take to arrive, from its first byte (the first request: from"
        " the connection); past it the connection is closed.",
    )
    max_requests_in_flight_per_party: int = Field(
        16,
        ge=1,
        le=10_000,
        description="Requests one party may have in flight at once in one API process, all its keys together; past"
        " it a new one is refused with 429 and Retry-After. Track batches (bounded by the ingest queue) and the live"
        " stream (max_streams_per_key) are not counted.",
    )
    ledger_checkpoint_every_entries: int = Field(
        100, ge=1, description="The deployment signs the ledger head at least every this many entries."
    )
    ledger_checkpoint_interval_s: float = Field(
        600.0, gt=0, description="...and at the first append once this many seconds passed since the last checkpoint."
    )
    ledger_submission_skew_s: float = Field(
        300.0, gt=0, description="How far a strong-mode signed submission's time may be from the deployment clock, s."
    )
    ledger_entry_signatures: Literal["batch", "each"] = Field(
        "batch",
        description="batch: the signed tree head vouches for custodial and system entries (one signature a"
        " batch); each: every entry signed on its own. Strong-mode submissions are always signed.",
    )
    ledger_key_passphrase: SecretStr | None = Field(
        None, description="Secret (environment only): encrypts the custodial ledger keys at rest when set."
    )
    record_poll_s: float = Field(
        0.5,
        gt=0,
        le=60,
        description="The record's signer looks for outbox entries staged by other processes this often, s.",
    )
    record_max_attempts: int = Field(
        5, ge=1, le=100, description="Tries to sign an outbox entry before it is parked as failed (shown in health)."
    )
    record_backlog_degraded_s: float = Field(
        30.0, gt=0, description="Health is degraded while the oldest unsigned outbox entry is older than this, s."
    )
    incident_evidence_window_s: float = Field(
        600.0, gt=0, description="Evidence covers the involved units' tracks this long before and after, seconds."
    )
    incident_merge_window_s: float = Field(
        600.0, ge=0, description="Automatic triggers for the same units this close in time join one incident, s."
    )
    max_incident_accounts_per_party: int = Field(
        50,
        ge=1,
        le=100_000,
        description="Accounts and amendments one party may add to one incident; each is shown whole to every"
        " involved party on every read of the incident, so one past it is refused (409).",
    )
    incident_view_max_timeline_items: int = Field(
        500,
        ge=1,
        le=100_000,
        description="Timeline items GET /v1/incidents/{id} and the incident report show, the earliest first"
        " (timeline_total counts them all); the rest are paged by GET /v1/incidents/{id}/timeline.",
    )
    incident_max_age_days: float = Field(
        366.0,
        gt=0,
        le=36_525,
        description="A reported incident's time may be at most this many days in the past (POST /v1/incidents);"
        " further back is refused (422) naming time, nothing stored.",
    )
    activity_buffer_m: float = Field(
        1000.0, ge=0, description="Horizontal buffer between two parties' activities, metres."
    )
    activity_buffer_ft: float = Field(
        1000.0, ge=0, description="Vertical buffer between two parties' activities, feet."
    )
    activity_buffer_s: float = Field(900.0, ge=0, description="Time buffer between two parties' activities, seconds.")
    activity_check_max_exact_pairs: int = Field(
        20_000,
        ge=100,
        description="Most pairs of pieces one activity's check judges exactly (~50 µs each); past it, 422.",
    )
    min_notice_default_h: float = Field(24.0, ge=0, description="Minimum notice of an activity, hours (most kinds).")
    min_notice_humanitarian_movement_h: float = Field(
        48.0, ge=0, description="Minimum notice of a humanitarian movement, hours."
    )
    ack_deadline_routine_s: float = Field(
        900.0, gt=0, description="An addressee acknowledges a routine activity within, s."
    )
    ack_deadline_priority_s: float = Field(900.0, gt=0, description="...a priority activity within, seconds.")
    ack_deadline_immediate_s: float = Field(300.0, gt=0, description="...an immediate activity within, seconds.")
    ack_deadline_conflict_s: float = Field(
        300.0, gt=0, description="...an activity that conflicts with the addressee's own, within, seconds."
    )
    activity_max_ahead_days: float = Field(365.0, gt=0, description="How far ahead an activity may start, days.")
    max_activities_per_batch: int = Field(
        500, ge=1, le=10_000, description="Most activities one batch notification (POST /v1/activities/batch) holds."
    )
    max_live_activities_per_party: int = Field(
        50_000,
        ge=1,
        le=10_000_000,
        description="Live (notified or active) activities one party may have; each API process holds every live"
        " activity in memory, so a notification past it is refused (409).",
    )
    activity_writes_per_party_per_s: float = Field(
        10.0,
        gt=0,
        le=1_000_000,
        description="Activity writes one party may make a second, sustained, all its keys together (per API"
        " process): each activity notified (POST /v1/activities; a batch counts each of its activities), amended"
        " or cancelled takes one; past it, and past the burst, the request is refused whole (429 with Retry-After)"
        " and nothing of it stored. Acknowledging, objecting, activating and completing do not count, nor do"
        " keepclear's own writes.",
    )
    activity_write_burst: int = Field(
        2000,
        ge=1,
        le=10_000_000,
        description="Activity writes one party may make at once before activity_writes_per_party_per_s holds it"
        " back (the size of its token bucket); at least max_activities_per_batch, so a full batch can pass.",
    )
    activity_vertices_per_party_per_s: float = Field(
        2000.0,
        gt=0,
        le=1_000_000_000,
        description="Geometry vertices (polygon positions and route waypoints) one party may write a second in"
        " activities, sustained, all its keys together (per API process): each activity notified (a batch counts"
        " each of its activities) or amended takes one token for each of its vertices, besides its activity write;"
        " past it, and past the burst, the request is refused whole (429 with Retry-After) and nothing of it"
        " stored. Each vertex costs checking, views, record signing and stream rendering: large polygons written"
        " without bound made the other parties' alerts late.",
    )
    activity_vertex_burst: int = Field(
        200_000,
        ge=1,
        le=1_000_000_000,
        description="Geometry vertices one party may write in activities at once before"
        " activity_vertices_per_party_per_s holds it back (the size of its token bucket); at least the most one"
        " activity may hold (20,000 polygon positions), so the largest activity can pass. A request holding more"
        " is refused (422): send its activities in smaller batches.",
    )
    activity_view_max_overlaps: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Conflicts others recorded against an activity shown on its view (overlapped_by), most"
        " recently found first; the rest are paged by GET /v1/activities/{id}/overlaps.",
    )
    activity_page_max_overlaps: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Conflicts others recorded against an activity shown on its item of a page of GET"
        " /v1/activities (overlapped_by), most recently found first: a page answers at most limit times this.",
    )
    activity_view_max_conflicts: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Conflicts an activity's own check found shown on its view and on the answer to its"
        " notification or amendment (conflicts), as found; the rest are paged by GET /v1/activities/{id}/conflicts.",
    )
    activity_page_max_conflicts: int = Field(
        10,
        ge=1,
        le=10_000,
        description="Conflicts an activity's own check found shown on its item of a page of GET /v1/activities"
        " (conflicts), as found: a page answers at most limit times this.",
    )
    activity_event_max_conflicts: int = Field(
        20,
        ge=1,
        le=1_000,
        description="Conflicts one activity.conflict event holds: a notification, batch or amendment tells its"
        " notifier, and each other party whose activities it overlaps, once, with the first this many across"
        " its activities as found and conflicts_total; the rest are paged by GET /v1/activities/{id}/conflicts"
        " and .../overlaps.",
    )
    list_page_items: int = Field(
        100,
        ge=1,
        le=10_000,
        description="Items a page of GET /v1/activities, /v1/incidents, /v1/hotline/threads and /v1/zone-proposals"
        " holds when the request names no limit.",
    )
    list_page_max_items: int = Field(
        1000,
        ge=1,
        le=10_000,
        description="The most items one page of those lists holds: a larger limit is refused (422).",
    )
    hotline_escalation_step_s: float | None = Field(
        None,
        gt=0,
        description="Seconds between hotline escalation steps; empty: the message's own acknowledgement window"
        " (never less than hotline_escalation_min_step_s).",
    )
    hotline_min_ack_within_s: float = Field(
        60.0,
        ge=1,
        le=7 * 86400,
        description="The shortest acknowledgement window a hotline post may ask (ack_within_s), seconds: a shorter"
        " one is refused (422 naming the field and this minimum), nothing stored. Overdue requests escalate along"
        " the recipient's roster, a system message in its thread a step.",
    )
    hotline_escalation_min_step_s: float = Field(
        60.0,
        ge=1,
        le=7 * 86400,
        description="The least time between two escalation steps of one acknowledgement request, seconds: a message's"
        " own window shorter than it escalates at this spacing; hotline_escalation_step_s may not be less.",
    )
    max_hotline_ack_requests_per_party: int = Field(
        200,
        ge=1,
        le=1_000_000,
        description="Acknowledgement requests one party may have outstanding towards other parties (one per"
        " recipient party of each hotline post with ack_within_s, until it acknowledges or its escalation ends):"
        " a post asking more is refused (409 naming this setting), nothing stored.",
    )
    hotline_max_thread_parties: int = Field(16, ge=2, description="The most parties one hotline thread may have.")
    max_pending_zone_proposals_per_party: int = Field(
        200,
        ge=1,
        le=100_000,
        description="Zone proposals one party may have pending, waiting for an admin to accept or refuse them"
        " (POST /v1/zone-proposals; a redrawn one, same source, replaces itself): one more is refused (409)"
        " until an admin decides one.",
    )
    max_hotline_threads_per_party: int = Field(
        10_000,
        ge=1,
        le=1_000_000,
        description="Hotline threads one party may open (POST /v1/hotline/threads), for the deployment's life:"
        " threads are never closed. One more is refused (409); the standing thread of each pair of parties is"
        " keepclear's and does not count.",
    )
    hotline_messages_per_party_per_s: float = Field(
        20.0,
        gt=0,
        le=1_000_000,
        description="Hotline messages one party may post a second, sustained, all its keys together (POST"
        " /v1/hotline/threads/{id}/messages and the socket's post frames, and PUT /v1/hotline/availability, whose"
        " change posts a channel-status message to every other party; per API process); past it, and past the"
        " burst, a post or declaration is refused (429 with Retry-After, or an error frame) and nothing of it"
        " stored, a declaration of suspended included. keepclear's own messages do not count.",
    )
    hotline_message_burst: int = Field(
        200,
        ge=1,
        le=10_000_000,
        description="Hotline messages one party may post at once before hotline_messages_per_party_per_s holds it"
        " back (the size of its token bucket).",
    )
    incident_reports_per_party_per_s: float = Field(
        1 / 60,
        gt=0,
        le=1_000_000,
        description="Incidents one party may report a second, sustained, all its keys together (POST /v1/incidents"
        " and new record inconsistency alarms, POST /v1/record/inconsistency, per API process; default one a"
        " minute); past it, and past the burst, a report or alarm is refused (429 with Retry-After) and nothing of"
        " it stored. Incidents keepclear opens from alerts, and an alarm raised again, do not count.",
    )
    incident_report_burst: int = Field(
        50,
        ge=1,
        le=10_000_000,
        description="Incidents one party may report at once before incident_reports_per_party_per_s holds it back"
        " (the size of its token bucket).",
    )
    hotline_alert_summary_over: int = Field(
        20,
        ge=1,
        description="Alert changes between one pair of parties in one delivery above which their hotline thread"
        " gets one summary message (an alert storm) instead of one message each; every alert stays in the alert"
        " list and the record.",
    )
    hotline_phrase_files: list[Path] = Field(
        default_factory=list,
        description="Extra phrase catalogue files (YAML) of this deployment, merged over the packaged one.",
    )
    history_retention_s: float = Field(
        10800.0,
        gt=0,
        description="How long thinned track history (one report per unit every 2 s) is kept, in memory and in the"
        " database (incident evidence, console look-back), seconds.",
    )
    store_outage_key_grace_s: float = Field(
        900.0,
        ge=0,
        description="While the database cannot be reached, an API key it confirmed within this many seconds is"
        " still taken (feeds keep feeding the probe, liaison cells keep reading the live picture); 0: none.",
    )
    request_key_retention_s: float = Field(
        86400.0,
        ge=600,
        description="How long an Idempotency-Key and the answer it got are kept (a retry within it is answered"
        " as the original), seconds.",
    )
    interop_file: Path | None = Field(
        None,
        description="The adapters file (docs/interop.md): TAK, ADS-B, ASTERIX and AIS adapters `keepclear serve`"
        " runs inside itself, their counters in /v1/metrics; empty: none (run `keepclear interop` beside it).",
    )

    @field_validator("minima", mode="before")
    @classmethod
    def _minima_over_defaults(cls, value: object) -> object:
        """Each pair's given keys over its defaults: a file may set one key of one pair."""
        if not isinstance(value, Mapping):
            return value  # pydantic names what is wrong
        out: dict[str, object] = {pair.value: row.model_dump() for pair, row in default_minima().items()}
        unknown = sorted(str(key) for key in value if str(key) not in out)  # a DomainPair is its value
        if unknown:
            raise ValueError(f"no pair of domains {', '.join(unknown)}: the pairs are {', '.join(out)}")
        for key, row in value.items():
            given = row.model_dump() if isinstance(row, PairMinima) else row
            default = out[str(key)]
            out[str(key)] = {**default, **given} if isinstance(default, dict) and isinstance(given, Mapping) else given
        return out

    @model_validator(mode="after")
    def _page_within_its_bound(self) -> Settings:
        """A page holds by default no more than any page may."""
        if self.list_page_items > self.list_page_max_items:
            raise ValueError(
                f"list_page_items ({self.list_page_items}) is more than list_page_max_items ({self.list_page_max_items})"
            )
        return self

    @model_validator(mode="after")
    def _batch_within_write_burst(self) -> Settings:
        """A full batch takes one token an activity, so the bucket holds at least one batch: else one
        could never pass."""
        if self.activity_write_burst < self.max_activities_per_batch:
            raise ValueError(
                f"activity_write_burst ({self.activity_write_burst}) is less than max_activities_per_batch"
                f" ({self.max_activities_per_batch}): a full batch takes one token an activity and could never"
                " pass; raise the burst or lower the batch"
            )
        return self

    @model_validator(mode="after")
    def _largest_activity_within_vertex_burst(self) -> Settings:
        """An activity takes one token a vertex, so the bucket holds at least the largest one: else it
        could never pass."""
        if self.activity_vertex_burst < MAX_VERTICES:
            raise ValueError(
                f"activity_vertex_burst ({self.activity_vertex_burst}) is less than the most polygon positions one"
                f" activity may hold ({MAX_VERTICES}): such an activity takes one token a vertex and could never"
                " pass; raise the burst"
            )
        return self

    @model_validator(mode="after")
    def _escalation_step_over_its_minimum(self) -> Settings:
        """The deployment's escalation spacing keeps to the least spacing a request may escalate at."""
        step_s = self.hotline_escalation_step_s
        if step_s is not None and step_s < self.hotline_escalation_min_step_s:
            raise ValueError(
                f"hotline_escalation_step_s ({step_s:g}) is less than hotline_escalation_min_step_s"
                f" ({self.hotline_escalation_min_step_s:g}): raise the step or lower the minimum"
            )
        return self

    def separation_minima(self) -> dict[DomainPair, SeparationMinima]:
        """Every pair's minima as the probe takes them (``detect.minima.ProbeSettings.from_rows``)."""
        return {pair: self.minima[pair].separation() for pair in DomainPair}

    def input_limits(self) -> InputLimits:
        """The limits every input is judged against (``domain.limits``)."""
        return InputLimits(**{name: getattr(self, name) for name in InputLimits.__dataclass_fields__})

    def resolved_database_url(self) -> str:
        """The database URL in force: the explicit one, or the SQLite file in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'keepclear.db').resolve()}"


def load_settings(file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from an optional TOML ``file`` plus ``overrides`` (``None`` values ignored).

    Raises ``KeepclearError`` naming the file and field when something is wrong.
    """
    from_file: dict[str, Any] = {}
    if file is not None:
        try:
            from_file = tomllib.loads(Path(file).read_text(encoding="utf-8"))
        except OSError as exc:
            raise KeepclearError(f"settings file {file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise KeepclearError(f"settings file {file}: {exc}") from None
    explicit = {key: value for key, value in overrides.items() if value is not None}
    renamed = _renamed_minima(from_file, os.environ)
    if renamed:
        where = f"settings file {file}: " if file else "settings: "
        raise KeepclearError(where + "; ".join(renamed)) from None
    try:
        # Environment beats the file, explicit arguments beat both; nested settings merge key by key.
        env_set = EnvSettingsSource(Settings)()
        return Settings.model_validate(_deep_merge(_deep_merge(from_file, env_set), explicit))
    except ValidationError as exc:
        problems = [f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()]
        where = f"settings file {file}: " if file else "settings: "
        raise KeepclearError(where + "; ".join(problems)) from None


def _deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """``over`` on ``base``, tables merged key by key (a file's ``[minima.air_air]`` and an
    environment variable for another of its keys both count)."""
    out = dict(base)
    for key, value in over.items():
        below = out.get(key)
        if isinstance(below, Mapping) and isinstance(value, Mapping):
            out[key] = _deep_merge(below, value)
        else:
            out[key] = value
    return out


def _renamed_minima(from_file: Mapping[str, Any], environ: Mapping[str, str]) -> list[str]:
    """The flat ``sep_<pair>_<key>`` settings this file or environment still uses, each with the nested
    name that replaced it: refused, so that an old deployment never runs on default minima unawares."""
    prefix = Settings.model_config.get("env_prefix", "")
    out = []
    for pair in DomainPair:
        for key in PairMinima.model_fields:
            old = f"sep_{pair.value}_{key}"
            new = f"minima.{pair.value}.{key}"
            if old in from_file:
                out.append(f"{old} is now {new} (docs/settings.md)")
            if (prefix + old).upper() in environ:
                env_new = ENV_NESTED_DELIMITER.join((prefix + "minima", pair.value, key)).upper()
                out.append(f"{(prefix + old).upper()} is now {env_new} (docs/settings.md)")
    return out
