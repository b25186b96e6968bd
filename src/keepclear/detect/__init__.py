"""Pure detection: the tactical probe, alert volumes and hysteresis, the alert book, the zone probe,
and (in `strategic`) the check of notified activities. Numpy and numba, time passed in, no I/O.

No clock, no I/O, no framework: states and times come in, conflicts, alerts and events go out.

The names below load on first use (PEP 562): importing one detector, or reading states, does not
compile or load every kernel (numba alone takes most of a second to import). The probe itself is
``keepclear.detect.probe.probe`` (the name ``probe`` here is its module).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keepclear.detect.alerts import Alert, AlertBook, candidate_settings
    from keepclear.detect.conflicts import Conflicts
    from keepclear.detect.hysteresis import PairHysteresis
    from keepclear.detect.minima import DOMAIN_CODES, DomainPair, ProbeSettings, SeparationMinima
    from keepclear.detect.probe import CullGrid
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

#: Where each public name lives.
_HOMES = {
    "Alert": "keepclear.detect.alerts",
    "AlertBook": "keepclear.detect.alerts",
    "candidate_settings": "keepclear.detect.alerts",
    "PairHysteresis": "keepclear.detect.hysteresis",
    "DOMAIN_CODES": "keepclear.detect.minima",
    "DomainPair": "keepclear.detect.minima",
    "ProbeSettings": "keepclear.detect.minima",
    "SeparationMinima": "keepclear.detect.minima",
    "Conflicts": "keepclear.detect.conflicts",
    "CullGrid": "keepclear.detect.probe",
    "TrackStates": "keepclear.detect.states",
    "states_from_track": "keepclear.detect.states",
    "Outcome": "keepclear.detect.tracktable",
    "TrackTable": "keepclear.detect.tracktable",
    "TrackTableSettings": "keepclear.detect.tracktable",
    "AlertingSettings": "keepclear.detect.wellclear",
    "AlertLevel": "keepclear.detect.wellclear",
    "AlertPolicy": "keepclear.detect.wellclear",
    "Hysteresis": "keepclear.detect.wellclear",
    "LevelSpec": "keepclear.detect.wellclear",
    "WellClearVolume": "keepclear.detect.wellclear",
    "do_365b_phase_i": "keepclear.detect.wellclear",
    "minima_policy": "keepclear.detect.wellclear",
    "PreparedZone": "keepclear.detect.zoneprobe",
    "ZoneEntry": "keepclear.detect.zoneprobe",
    "ZoneProbeSettings": "keepclear.detect.zoneprobe",
    "ZoneWatch": "keepclear.detect.zoneprobe",
    "predict_zone_entries": "keepclear.detect.zoneprobe",
    "prepare_zone": "keepclear.detect.zoneprobe",
}


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first access."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'keepclear.detect' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


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
    "states_from_track",
]
