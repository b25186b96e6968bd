"""What the tactical probe is tuned by (``TacticalConfig``): the track table, the probe's minima,
the alerting, the zone watch, and how many resolved alerts are kept for reading. Built from the
deployment's settings by ``services.runtime.config``."""

from __future__ import annotations

from dataclasses import dataclass, field

from keepclear.detect.minima import ProbeSettings
from keepclear.detect.tracktable import TrackTableSettings
from keepclear.detect.wellclear import AlertingSettings
from keepclear.detect.zoneprobe import ZoneProbeSettings

__all__ = ["TacticalConfig"]


@dataclass(frozen=True, slots=True)
class TacticalConfig:
    """Everything the tactical probe is tuned by."""

    table: TrackTableSettings = field(default_factory=TrackTableSettings)
    probe: ProbeSettings = field(default_factory=ProbeSettings)
    alerting: AlertingSettings = field(default_factory=AlertingSettings)
    zones: ZoneProbeSettings = field(default_factory=ZoneProbeSettings)
    resolved_kept: int = 500
