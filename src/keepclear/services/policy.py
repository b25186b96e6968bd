"""Need to know, in one place: what each role of each party may do and see.

Every API endpoint names one ``Action`` and calls ``require``; every response that carries another
party's data passes through one of the view functions here. A party sees its own data in full, and
of the others only what an agreement (a grant), a notification addressed to it, or an alert
involving its own units gives it.
"""

from __future__ import annotations

import enum

from keepclear.domain.events import Event
from keepclear.domain.identity import Principal, Role
from keepclear.errors import ForbiddenError


class Action(enum.StrEnum):
    """Everything the API lets a caller do."""

    HEALTH = "health"
    WHOAMI = "whoami"
    METRICS_READ = "metrics.read"
    PARTIES_READ = "parties.read"
    PARTIES_WRITE = "parties.write"
    FORCES_READ = "forces.read"
    FORCES_WRITE = "forces.write"
    UNITS_READ = "units.read"
    UNITS_WRITE = "units.write"
    ZONES_READ = "zones.read"
    ZONES_WRITE = "zones.write"
    KEYS_MANAGE = "keys.manage"
    TRACKS_INGEST = "tracks.ingest"
    TRACKS_READ = "tracks.read"
    ALERTS_READ = "alerts.read"
    ALERTS_ACKNOWLEDGE = "alerts.acknowledge"
    ACTIVITIES_READ = "activities.read"
    ACTIVITIES_NOTIFY = "activities.notify"
    ACTIVITIES_RESPOND = "activities.respond"
    THREADS_READ = "threads.read"
    THREADS_WRITE = "threads.write"
    MESSAGES_POST = "messages.post"
    AVAILABILITY_SET = "availability.set"
    STREAM_READ = "stream.read"
    RECORD_READ = "record.read"
    INCIDENTS_WRITE = "incidents.write"


_READERS = frozenset({Role.LIAISON, Role.OBSERVER})
_ALL = frozenset(Role)

#: Which roles may take each action at all; need-to-know then narrows what they see.
ALLOWED: dict[Action, frozenset[Role]] = {
    Action.HEALTH: _ALL,
    Action.WHOAMI: _ALL,
    Action.METRICS_READ: frozenset({Role.ADMIN}),
    Action.PARTIES_READ: _ALL,
    Action.PARTIES_WRITE: frozenset({Role.ADMIN}),
    Action.FORCES_READ: frozenset({Role.ADMIN, *_READERS}),
    Action.FORCES_WRITE: frozenset({Role.ADMIN}),
    Action.UNITS_READ: frozenset({Role.ADMIN, Role.FEED, *_READERS}),
    Action.UNITS_WRITE: frozenset({Role.ADMIN}),
    Action.ZONES_READ: frozenset({Role.ADMIN, *_READERS}),
    Action.ZONES_WRITE: frozenset({Role.ADMIN}),
    Action.KEYS_MANAGE: frozenset({Role.ADMIN}),
    Action.TRACKS_INGEST: frozenset({Role.FEED}),
    Action.TRACKS_READ: _READERS,
    Action.ALERTS_READ: _READERS,
    Action.ALERTS_ACKNOWLEDGE: frozenset({Role.LIAISON}),
    Action.ACTIVITIES_READ: _READERS,
    Action.ACTIVITIES_NOTIFY: frozenset({Role.LIAISON}),
    Action.ACTIVITIES_RESPOND: frozenset({Role.LIAISON}),
    Action.THREADS_READ: _READERS,
    Action.THREADS_WRITE: frozenset({Role.LIAISON}),
    Action.MESSAGES_POST: frozenset({Role.LIAISON}),
    Action.AVAILABILITY_SET: frozenset({Role.LIAISON}),
    Action.STREAM_READ: _READERS,
    Action.RECORD_READ: frozenset({Role.ADMIN, *_READERS}),
    Action.INCIDENTS_WRITE: frozenset({Role.LIAISON}),
}


def require(principal: Principal, action: Action) -> None:
    """Raise ``ForbiddenError`` unless ``principal``'s role may take ``action``."""
    if principal.role not in ALLOWED[action]:
        raise ForbiddenError(f"a {principal.role.value} key may not {action.value}")


def sees_party_data(principal: Principal, owner_party_id: str) -> bool:
    """True when ``principal`` sees ``owner_party_id``'s own data in full (its own party only)."""
    return principal.party_id is not None and principal.party_id == owner_party_id


def event_visible(principal: Principal, event: Event) -> bool:
    """True when the live stream may carry ``event`` to ``principal``: it concerns the caller's party."""
    if principal.role not in _READERS or principal.party_id is None:
        return False
    return principal.party_id in event.parties


def event_view(principal: Principal, event: Event) -> dict[str, object] | None:
    """What the live stream shows ``principal`` of ``event``, or None when it concerns another party.

    Events carry per-party views under ``payload["views"][party_id]`` when parties see them
    differently (an activity's addressees versus its notifier); otherwise the payload is the view.
    """
    if not event_visible(principal, event):
        return None
    views = event.payload.get("views")
    if isinstance(views, dict):
        own = views.get(principal.party_id)
        return None if own is None else {"payload": own}
    return {"payload": event.payload}
