"""The activity service's own refusals: a change that names a stale version (a ``ConflictError``
carrying the current one, for the caller to retry on) and one the acting party may not make (a
``ForbiddenError``). The API answers them as their bases: 409 with the current version, 403.
"""

from __future__ import annotations

from keepclear.errors import ConflictError, ForbiddenError


class StaleVersionError(ConflictError):
    """A change named a version that is no longer current; ``current_version`` is."""

    def __init__(self, activity_id: str, named_version: int, current_version: int) -> None:
        self.activity_id = activity_id
        self.named_version = named_version
        self.current_version = current_version
        super().__init__(
            f"activity {activity_id!r}: version {named_version} is stale; the current version is {current_version}",
            current={"activity_id": activity_id, "version": current_version},
        )


class ActivityForbidden(ForbiddenError):
    """The acting party may not make this change (only the notifier amends; only addressees answer)."""
