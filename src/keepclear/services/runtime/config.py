"""The runtime's configuration: every config object a running deployment uses, built from one ``Settings``.

``RuntimeConfig.from_settings`` is the one place where settings become the services' configs (the
tick, ingest, history, the probe and its alerting, activities, the record, incidents, the hotline):
``Runtime`` reads nothing else, so a deployment runs on exactly one ``Settings``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from keepclear.detect.minima import ProbeSettings
from keepclear.detect.strategic import StrategicConfig
from keepclear.detect.tracktable import TrackTableSettings
from keepclear.detect.wellclear import AlertingSettings, do_365b_phase_i, minima_policy
from keepclear.domain.activities import ActivityKind, Priority
from keepclear.ledger import LedgerConfig
from keepclear.services.activities.config import ActivityConfig
from keepclear.services.hotline.config import HotlineConfig
from keepclear.services.hotline.hub import HubConfig
from keepclear.services.incidents.service import IncidentConfig
from keepclear.services.record.signer import RecordConfig
from keepclear.services.tactical.history import HistoryLimits
from keepclear.services.tactical.service import TacticalConfig
from keepclear.services.tactical.tracks import IngestLimits
from keepclear.settings import Settings

_HOUR_S = 3600.0
_DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class RuntimeConfig:
    """How often the tick runs, how ingest is bounded, how the probe and each service are tuned.

    ``pump_s``: between ticks, queued reports are moved into the track table this often, so the
    tick itself only takes the last moments' reports and a busy feed never delays the probe.
    ``pump_chunk_s``, ``pump_chunk_reports``: the pump moves reports a chunk at a time, as many as
    take it about ``pump_chunk_s`` of work (at most ``pump_chunk_reports``), and lets the probe go
    first between chunks, so the probe never waits long for the track table. The other fields come
    from the settings (``from_settings``), which hold their defaults.
    """

    tick_s: float
    ingest: IngestLimits
    history: HistoryLimits
    tactical: TacticalConfig
    activities: ActivityConfig
    record: RecordConfig
    incidents: IncidentConfig
    hotline: HotlineConfig
    hotline_phrase_files: tuple[Path, ...]
    hotline_hub: HubConfig
    request_key_retention_s: float
    pump_s: float = 0.1
    pump_chunk_s: float = 0.01
    pump_chunk_reports: int = 10_000

    @classmethod
    def from_settings(cls, settings: Settings) -> RuntimeConfig:
        """The runtime configuration a deployment's settings ask for."""
        probe = ProbeSettings.from_rows(settings.separation_minima())
        passphrase = settings.ledger_key_passphrase
        return cls(
            tick_s=settings.tick_s,
            ingest=IngestLimits(
                queue_reports=settings.ingest_queue_reports,
                backlog_s=min(settings.ingest_backlog_s, settings.tick_s),
                max_future_s=settings.ingest_max_future_s,
                max_age_s=settings.ingest_max_age_s,
            ),
            history=HistoryLimits(retention_s=settings.history_retention_s),
            # Alert levels follow the configured minima (docs/architecture.md) with DO-365B hysteresis, unless the
            # deployment asks for the DO-365B Phase I volumes for air–air.
            tactical=TacticalConfig(
                table=TrackTableSettings(
                    stale_air_s=settings.stale_air_s,
                    stale_land_s=settings.stale_land_s,
                    stale_sea_s=settings.stale_sea_s,
                ),
                probe=probe,
                alerting=AlertingSettings(
                    air_air=do_365b_phase_i()
                    if settings.air_air_alerting == "do-365b-phase-i"
                    else minima_policy(probe.air_air),
                    surface=probe,
                ),
            ),
            activities=ActivityConfig(
                strategic=StrategicConfig(
                    buffer_m=settings.activity_buffer_m,
                    buffer_ft=settings.activity_buffer_ft,
                    buffer_s=settings.activity_buffer_s,
                    max_exact_pairs=settings.activity_check_max_exact_pairs,
                    default_min_notice_s=settings.min_notice_default_h * _HOUR_S,
                    min_notice_s_by_kind={
                        ActivityKind.HUMANITARIAN_MOVEMENT: settings.min_notice_humanitarian_movement_h * _HOUR_S
                    },
                ),
                ack_deadline_s_by_priority={
                    Priority.ROUTINE: settings.ack_deadline_routine_s,
                    Priority.PRIORITY: settings.ack_deadline_priority_s,
                    Priority.IMMEDIATE: settings.ack_deadline_immediate_s,
                },
                conflict_ack_deadline_s=settings.ack_deadline_conflict_s,
                max_ahead_s=settings.activity_max_ahead_days * _DAY_S,
                max_batch=settings.max_activities_per_batch,
                max_live_per_party=settings.max_live_activities_per_party,
                view_max_overlaps=settings.activity_view_max_overlaps,
                page_max_overlaps=settings.activity_page_max_overlaps,
                view_max_conflicts=settings.activity_view_max_conflicts,
                page_max_conflicts=settings.activity_page_max_conflicts,
                event_max_conflicts=settings.activity_event_max_conflicts,
                max_problems_listed=settings.max_problems_listed,
            ),
            record=RecordConfig(
                data_dir=settings.data_dir,
                key_passphrase=None if passphrase is None else passphrase.get_secret_value().encode(),
                ledger=LedgerConfig(
                    checkpoint_every_entries=settings.ledger_checkpoint_every_entries,
                    checkpoint_interval_s=settings.ledger_checkpoint_interval_s,
                    submission_skew_s=settings.ledger_submission_skew_s,
                    entry_signatures=settings.ledger_entry_signatures,
                ),
                max_attempts=settings.record_max_attempts,
                poll_s=settings.record_poll_s,
            ),
            incidents=IncidentConfig(
                evidence_window_s=settings.incident_evidence_window_s,
                merge_window_s=settings.incident_merge_window_s,
                max_accounts_per_party=settings.max_incident_accounts_per_party,
                view_max_timeline_items=settings.incident_view_max_timeline_items,
                max_age_days=settings.incident_max_age_days,
            ),
            hotline=HotlineConfig(
                escalation_step_s=settings.hotline_escalation_step_s,
                min_ack_within_s=settings.hotline_min_ack_within_s,
                min_escalation_step_s=settings.hotline_escalation_min_step_s,
                max_ack_requests_per_party=settings.max_hotline_ack_requests_per_party,
                max_thread_parties=settings.hotline_max_thread_parties,
                alert_summary_over=settings.hotline_alert_summary_over,
                max_threads_per_party=settings.max_hotline_threads_per_party,
                limits=settings.input_limits(),
            ),
            hotline_phrase_files=tuple(settings.hotline_phrase_files),
            hotline_hub=HubConfig(queue_limit=settings.hotline_client_backlog_items),
            request_key_retention_s=settings.request_key_retention_s,
        )
