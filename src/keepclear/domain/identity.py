"""Who is calling: roles and principals. Decisions about them live in ``services.policy``."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Role(enum.StrEnum):
    """What a key may do, before need-to-know narrows it."""

    ADMIN = "admin"  # the deployment: parties, forces, units, zones, keys
    LIAISON = "liaison"  # a party's officer: reads what the party may see, notifies, acknowledges, posts
    FEED = "feed"  # a machine: ingests tracks of its own party's units only
    OBSERVER = "observer"  # reads what the party may see; changes nothing


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller behind an API key: a role, for a party (``None`` only for admin), and a person."""

    key_id: str
    role: Role
    party_id: str | None
    person: str = ""


#: The most characters of an API key's label: the stores' column width.
KEY_LABEL_MAX_CHARS = 200


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """A stored key as listed: never the secret, which is shown once at creation."""

    key_id: str
    role: Role
    party_id: str | None
    label: str
    created_s: float
    revoked_s: float | None
