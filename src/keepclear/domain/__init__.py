"""Plain typed values of keepclear: parties, forces, units, track reports, zones.

No I/O, no framework, no clock: every time is passed in as seconds since the Unix epoch (UTC).
"""

from keepclear.domain.parties import Contact, Domain, Force, Party, Unit
from keepclear.domain.tracks import TrackReport, track_report_problems
from keepclear.domain.zones import Access, AltitudeBand, Validity, Zone, ZoneKind, ZoneRules

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
