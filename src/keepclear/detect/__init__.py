"""Pure detection: the tactical probe, alert volumes and hysteresis, the alert book, the zone probe,
and (in `strategic`) the check of notified activities. Numpy and numba, time passed in, no I/O.

No clock, no I/O, no framework: states and times come in, conflicts, alerts and events go out.
"""

from keepclear.detect.alerts import Alert, AlertBook, candidate_settings
from keepclear.detect.hysteresis import PairHysteresis
from keepclear.detect.minima import DOMAIN_CODES, DomainPair, ProbeSettings, SeparationMinima
from keepclear.detect.probe import Conflicts, CullGrid, probe
from keepclear.detect.states import TrackStates, states_from_track
from keepclear.detect.tracktable import Outcome, TrackTable, TrackTableSettings
from keepclear.detect.wellclear import (
    AlertingSettings,
    AlertLevel,
    AlertPolicy,
    Hysteresis,
    LevelSpec,
    WellClearVolume,
    do_365b_phase_i,
    minima_policy,
)
from keepclear.detect.zoneprobe import (
    PreparedZone,
    ZoneEntry,
    ZoneProbeSettings,
    ZoneWatch,
    predict_zone_entries,
    prepare_zone,
)

__all__ = [
    "DOMAIN_CODES",
    "Alert",
    "AlertBook",
    "AlertLevel",
    "AlertPolicy",
    "AlertingSettings",
    "Conflicts",
    "CullGrid",
    "DomainPair",
    "Hysteresis",
    "LevelSpec",
    "Outcome",
    "PairHysteresis",
    "PreparedZone",
    "ProbeSettings",
    "SeparationMinima",
    "TrackStates",
    "TrackTable",
    "TrackTableSettings",
    "WellClearVolume",
    "ZoneEntry",
    "ZoneProbeSettings",
    "ZoneWatch",
    "candidate_settings",
    "do_365b_phase_i",
    "minima_policy",
    "predict_zone_entries",
    "prepare_zone",
    "probe",
    "states_from_track",
]
