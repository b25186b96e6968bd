"""Times as a reader of an after-action report wants them: ``HH:MM:SSZ`` on the report's day (named
once, in its header), the date in front only on another day; never seconds since the epoch.

>>> ReportClock(1500681600.0).text(1500723296.4)
'11:34:56Z'
>>> ReportClock(1500681600.0).text(1500768000.0)
'2017-07-23 00:00:00Z'
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

#: Fields of a payload whose numbers are times (seconds since the epoch), by name.
_TIME_SUFFIX = "_s"
#: Smaller numbers in such fields are durations, not times (before 2001-09-09).
_EPOCH_FLOOR_S = 1e9


class ReportClock:
    """Formats times relative to the report's day (the UTC day of ``day_of_s``)."""

    def __init__(self, day_of_s: float) -> None:
        self.day = datetime.fromtimestamp(day_of_s, tz=UTC).date()

    def text(self, time_s: float) -> str:
        """``HH:MM:SSZ`` on the report's day, ``YYYY-MM-DD HH:MM:SSZ`` on another (whole seconds)."""
        moment = datetime.fromtimestamp(round(time_s), tz=UTC)
        clock = moment.strftime("%H:%M:%SZ")
        return clock if moment.date() == self.day else f"{moment.date().isoformat()} {clock}"

    def iso(self, text: str) -> str:
        """An ISO 8601 UTC time (``format_utc``'s) as ``text`` gives it; other text unchanged."""
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except (ValueError, AttributeError):
            return text
        return self.text(moment.timestamp()) if moment.tzinfo is not None else text

    @property
    def date(self) -> str:
        """The report's day, ``YYYY-MM-DD``."""
        return self.day.isoformat()

    def payload(self, value: Any) -> Any:
        """``value`` with every time field (``…_s`` holding seconds since the epoch) shown as a time
        and renamed without ``_s``; durations and everything else as they were."""
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                if (
                    isinstance(key, str)
                    and key.endswith(_TIME_SUFFIX)
                    and isinstance(item, (int, float))
                    and not isinstance(item, bool)
                    and item >= _EPOCH_FLOOR_S
                ):
                    out[key.removesuffix(_TIME_SUFFIX)] = self.text(float(item))
                else:
                    out[key] = self.payload(item)
            return out
        if isinstance(value, list):
            return [self.payload(item) for item in value]
        return value
