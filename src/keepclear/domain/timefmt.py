"""Conversions between ISO 8601 UTC text (the edges) and epoch seconds (everything inside)."""

from __future__ import annotations

import functools
import math
from datetime import UTC, datetime


def parse_utc(text: object, field: str) -> float:
    """Parse an ISO 8601 time with a zone offset into seconds since the epoch.

    A time without an offset is refused: guessing the zone of an operational time is how
    notices arrive an hour late. So is one whose UTC instant lies outside the years 1 to 9999
    (``0001-01-01T00:00:00+01:00``), or whose seconds since the epoch do
    (``9999-12-31T23:59:59.999999Z`` is the year 10000 once a float: its spacing there is 30 µs):
    it parses, but ``format_utc`` could never write it back, and every later read of what holds it
    would fail.

    >>> parse_utc("2017-11-01T12:00:00Z", "valid_from")
    1509537600.0
    >>> parse_utc("9999-12-31T23:59:59.999999Z", "end")
    Traceback (most recent call last):
    ValueError: end: '9999-12-31T23:59:59.999999Z' lies outside the years 1 to 9999 in UTC
    """
    if not isinstance(text, str):
        raise ValueError(f"{field}: {text!r} is not an ISO 8601 time string")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{field}: {text!r} is not an ISO 8601 time (e.g. 2017-11-01T12:00:00Z)") from None
    if moment.tzinfo is None:
        raise ValueError(f"{field}: {text!r} has no time zone; add Z for UTC")
    try:
        moment.astimezone(UTC)
        time_s = moment.timestamp()
        datetime.fromtimestamp(time_s, tz=UTC)  # what format_utc does: the float may round past 9999
    except (OverflowError, ValueError):
        raise ValueError(f"{field}: {text!r} lies outside the years 1 to 9999 in UTC") from None
    return time_s


@functools.lru_cache(maxsize=4096)
def format_utc(time_s: float) -> str:
    """Seconds since the epoch as ISO 8601 UTC with a Z, to the second when whole.

    The texts of the last few thousand values are kept: one time is written several times over
    (a hotline message's time in each reader's view and in each party's stream event), and a
    lookup costs a tenth of writing it again.

    >>> format_utc(1509537600.0)
    '2017-11-01T12:00:00Z'
    """
    if not math.isfinite(time_s):
        raise ValueError(f"{time_s!r} is not a finite time")
    moment = datetime.fromtimestamp(time_s, tz=UTC)
    spec = "seconds" if moment.microsecond == 0 else "milliseconds"
    return moment.isoformat(timespec=spec).replace("+00:00", "Z")
