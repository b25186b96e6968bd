"""What every input adapter produces, the counters every adapter keeps, and the log of bad input."""

from __future__ import annotations

import logging
import math
import threading
from dataclasses import dataclass

from keepclear.interop.mapping import IdKind

log = logging.getLogger("keepclear.interop")


@dataclass(frozen=True, slots=True)
class Observation:
    """One position of an object named by an external id, in keepclear's units (degrees, metres, m/s)."""

    kind: IdKind
    external_id: str
    time_s: float
    lat_deg: float
    lon_deg: float
    alt_m: float = 0.0
    vel_east_mps: float = 0.0
    vel_north_mps: float = 0.0
    vel_up_mps: float = 0.0
    #: The domain the source says the object is in (a CoT type's battle dimension), when it says one.
    domain: str | None = None


#: A CoT ``a-<affiliation>-<battle dimension>`` type's dimension (MIL-STD-2525): air (A; P space
#: counted as air), ground (G, F special operations), sea surface (S) and subsurface (U).
_COT_DIMENSION = {"A": "air", "P": "air", "G": "land", "F": "land", "S": "sea", "U": "sea"}


def cot_domain(cot_type: str) -> str | None:
    """The domain a CoT atom type names (``a-f-A-M-F`` → air), or None when it names none.

    >>> cot_domain("a-f-A-M-F"), cot_domain("a-h-S"), cot_domain("a-n-G-U-C"), cot_domain("a-u-X")
    ('air', 'sea', 'land', None)
    """
    parts = cot_type.split("-")
    return _COT_DIMENSION.get(parts[2]) if len(parts) > 2 and parts[0] == "a" else None


def velocity(course_deg: float, speed_mps: float) -> tuple[float, float]:
    """(east, north) m/s of a course over ground (degrees true) and a speed; (0, 0) when either is unknown."""
    if not (math.isfinite(course_deg) and math.isfinite(speed_mps)) or speed_mps < 0:
        return 0.0, 0.0
    rad = math.radians(course_deg)
    return speed_mps * math.sin(rad), speed_mps * math.cos(rad)


def check_position(lat_deg: float, lon_deg: float) -> None:
    """Raise ValueError for a position no feed can mean."""
    if not (math.isfinite(lat_deg) and -90.0 <= lat_deg <= 90.0):
        raise ValueError(f"lat {lat_deg!r} is outside [-90, 90]")
    if not (math.isfinite(lon_deg) and -180.0 <= lon_deg <= 180.0):
        raise ValueError(f"lon {lon_deg!r} is outside [-180, 180]")


#: Counter names, in the order a status line shows them.
COUNTERS = (
    "messages",  # framed messages read from sockets
    "positions",  # observations decoded
    "ignored",  # well-formed messages that carry no position (CoT non-'a-' events, AIS static data...)
    "malformed",  # messages that did not decode; skipped
    "unmapped",  # positions of ids the mapping file does not name; refused
    "queued",  # reports handed to the poster
    "dropped",  # reports dropped because the poster's buffer was full (oldest first)
    "posted",  # reports sent to keepclear
    "accepted",  # reports keepclear kept
    "refused",  # reports keepclear refused (e.g. a unit of another party)
    "post_errors",  # batches that failed (connection, 5xx, auth); their reports are lost
    "oversized",  # stream data without a message boundary within the limit; discarded
    "connections_refused",  # connections over the limit
    "closed_slow",  # TAK connections closed for not reading their picture (4 MiB waiting)
    "sent",  # CoT events sent out
    "send_errors",  # CoT events that could not be sent
    "wrong_party_key",  # pictures refused: the key read with is another party's (nothing is sent)
    "acks",  # alerts acknowledged from TAK (GeoChat "ACK <alert>")
    "acks_refused",  # ACKs from TAK users the mapping does not allow, or keepclear refused
    "proposals",  # drawn shapes proposed as zones
    "proposals_refused",  # drawn shapes keepclear refused as proposals
    "units_created",  # units auto-created for unmapped ids (auto_create)
    "units_refused",  # units keepclear would not create
)


class Stats:
    """Thread-safe counters of one adapter process, shown as a status line and by ``snapshot``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(COUNTERS, 0)
        self._logged = 0

    def add(self, name: str, count: int = 1) -> None:
        with self._lock:
            self._counts[name] += count

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def line(self) -> str:
        """``messages=.. positions=..`` of the counters that are not zero."""
        counts = self.snapshot()
        return " ".join(f"{name}={value}" for name, value in counts.items() if value) or "nothing yet"

    def bad_input(self, counter: str, what: str) -> None:
        """Count ``counter`` and log ``what``: the first 20 such lines, then every 1000th, so a flood
        of garbage cannot flood the log."""
        with self._lock:
            self._counts[counter] += 1
            self._logged += 1
            logged = self._logged
        if logged <= 20 or logged % 1000 == 0:
            log.warning("interop: %s (%d bad inputs so far)", what, logged)
