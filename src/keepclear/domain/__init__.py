"""Plain typed values of keepclear: parties, forces, units, track reports, zones.

No I/O, no framework, no clock: every time is passed in as seconds since the Unix epoch (UTC).

The names below load on first use (PEP 562): reading tracks needs no shapely (zones).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from keepclear.domain.parties import Contact, Domain, Force, Party, Unit
    from keepclear.domain.tracks import TrackReport, track_report_problems
    from keepclear.domain.zones import Access, AltitudeBand, Validity, Zone, ZoneKind, ZoneRules

#: Where each public name lives.
_HOMES = {
    **dict.fromkeys(("Contact", "Domain", "Force", "Party", "Unit"), "keepclear.domain.parties"),
    **dict.fromkeys(("TrackReport", "track_report_problems"), "keepclear.domain.tracks"),
    **dict.fromkeys(("Access", "AltitudeBand", "Validity", "Zone", "ZoneKind", "ZoneRules"), "keepclear.domain.zones"),
}


def __getattr__(name: str) -> Any:
    """Import the module of a public name on first access."""
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'keepclear.domain' has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)


__all__ = [
    "Access",
    "AltitudeBand",
    "Contact",
    "Domain",
    "Force",
    "Party",
    "TrackReport",
    "Unit",
    "Validity",
    "Zone",
    "ZoneKind",
    "ZoneRules",
    "track_report_problems",
]
