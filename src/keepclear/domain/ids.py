"""Identifiers: short, readable, safe in URLs and file names.

The ids keepclear makes up: a prefix naming the kind and ``ID_BITS`` random bits, nothing else.

An id reaches parties (an alert's both parties, a thread's members, an activity's addressees, the
record everyone verifies), so it carries nothing they may not read: a counter in it would tell a
party how many of that kind the others made, and when; a name, who or what made it. Random bits
say nothing, and 80 of them make a repeat rare enough to ignore: among n ids of one kind the chance
of any two alike is about n²/2⁸¹ (below 10⁻⁶ for 10⁹ ids). Ids of 40 or 48 bits, as activities and
incidents had, repeat with even odds within about 10⁶ and 2·10⁷ ids, which a deployment of years
reaches.

The bits come from a ``RandomBits`` given by constructor: the operating system's
(``secrets.randbits``) in a live service, where ids must also be unpredictable; a seeded one in a
replay (``seeded_bits``), so that two replays of one scenario make the same ids. Each kind of id has
its own source (``IdBits``), so that the order in which different services draw does not matter.
"""

from __future__ import annotations

import random
import re
import secrets
from collections.abc import Callable

#: The longest id, in characters.
MAX_ID_CHARS = 64
_ID_RE = re.compile(rf"^[a-z0-9][a-z0-9_.-]{{0,{MAX_ID_CHARS - 1}}}$")


def id_problem(value: object, field: str) -> str | None:
    """Return why ``value`` is not a valid identifier for ``field``, or None when it is.

    >>> id_problem("coalition", "party") is None
    True
    """
    if not isinstance(value, str) or not _ID_RE.match(value):
        return (
            f"{field}: {value!r} is not a valid id (1-64 characters: lower-case letters, digits,"
            " '_', '.', '-', starting with a letter or digit)"
        )
    return None


#: Random bits in a made-up id (20 hex digits).
ID_BITS = 80

#: ``bits -> a uniform random integer of that many bits``.
RandomBits = Callable[[int], int]

#: ``kind -> the source of that kind's ids`` (``"alert"``, ``"incident"``, ``"thread"``, ``"activity"``).
IdBits = Callable[[str], RandomBits]


#: The longest party id: room is left in an id for a hyphen and 80 random bits, as the id keepclear
#: makes up for a party's activity is (``<party>-<20 hex digits>``, docs/activities.md).
MAX_PARTY_ID_CHARS = MAX_ID_CHARS - 1 - ID_BITS // 4


def party_id_problem(value: object, field: str = "party") -> str | None:
    """Why ``value`` is not a valid id for a new party, or None: an id (``id_problem``) of at most
    ``MAX_PARTY_ID_CHARS`` characters.

    >>> party_id_problem("coalition") is None
    True
    >>> party_id_problem("x" * 44)
    "party: 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx' has 44 characters; a party id has at most 43 (an activity id keepclear makes up is the party id, a hyphen and 20 hex digits, at most 64 in all)"
    """
    if problem := id_problem(value, field):
        return problem
    assert isinstance(value, str)
    if len(value) > MAX_PARTY_ID_CHARS:
        return (
            f"{field}: {value!r} has {len(value)} characters; a party id has at most {MAX_PARTY_ID_CHARS}"
            f" (an activity id keepclear makes up is the party id, a hyphen and {ID_BITS // 4} hex digits,"
            f" at most {MAX_ID_CHARS} in all)"
        )
    return None


def random_id(prefix: str, random_bits: RandomBits = secrets.randbits) -> str:
    """``<prefix>-`` and ``ID_BITS`` random bits as 20 lower-case hex digits.

    >>> random_id("inc", seeded_bits(1)("incident"))
    'inc-e9e36678283e82c2a903'
    """
    return f"{prefix}-{random_bits(ID_BITS):0{ID_BITS // 4}x}"


def live_bits(kind: str) -> RandomBits:
    """The source of a live service's ids of every kind: the operating system's randomness."""
    return secrets.randbits


def seeded_bits(seed: int) -> IdBits:
    """The sources of a replay's ids, seeded by the scenario's ``seed``: the same seed, the same ids.

    >>> seeded_bits(7)("alert")(80) == seeded_bits(7)("alert")(80) != seeded_bits(8)("alert")(80)
    True
    >>> seeded_bits(7)("alert")(80) != seeded_bits(7)("incident")(80)
    True
    """
    return lambda kind: random.Random(f"keepclear {kind} ids {seed}").getrandbits
