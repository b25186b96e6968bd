"""A bound on how much of something one party may hold (threads it opened, accounts in an incident,
live activities): judged by the writer in its transaction, refused with a 409 that names the
setting, and each refusal counted for a metric.

The count itself is the caller's: it reads it in the writing transaction with the row that
serialises those writes locked, so two processes taking the last place at once cannot both pass.
"""

from __future__ import annotations

import threading

from keepclear.errors import ConflictError


class Quota:
    """At most ``most`` of a thing per party (a setting's value)."""

    def __init__(self, most: int) -> None:
        self.most = most
        #: Writes refused for this bound (the service's ``…_refused_limit_total`` metric).
        self.refused_total = 0
        self._lock = threading.Lock()

    def allows(self, used: int, adding: int = 1) -> bool:
        """Whether ``adding`` more to the ``used`` stays within the bound."""
        return used + adding <= self.most

    def refused(self, why: str) -> ConflictError:
        """The 409 to raise when ``allows`` said no (``why`` names the setting); counted."""
        with self._lock:
            self.refused_total += 1
        return ConflictError(why)
