"""Errors every layer may raise; the API and CLI map them to answers in one place each."""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum


class KeepclearError(Exception):
    """Base of every error keepclear reports to a person: the message says what and where."""


class ProblemCode(StrEnum):
    """Machine codes of refused input: what programs match on (the text is for people and may change)."""

    #: Any problem without a more specific code.
    INVALID = "invalid"
    #: A number that is not a finite number (missing, text, NaN, infinite).
    NOT_FINITE = "not_finite"
    #: A number outside the range the field allows.
    OUT_OF_RANGE = "out_of_range"
    #: A reply or acknowledgement that does not name the message it answers.
    REPLY_TO_REQUIRED = "reply_to_required"
    #: A serialised document (an event on the wire) of a version this build does not read.
    UNKNOWN_VERSION = "unknown_version"
    #: An event of a kind this build does not know.
    UNKNOWN_KIND = "unknown_kind"
    #: A query parameter the endpoint does not take.
    UNKNOWN_PARAMETER = "unknown_parameter"
    #: A query parameter the endpoint takes once, given more than once.
    REPEATED_PARAMETER = "repeated_parameter"


class Problem(str):
    """One reason input was refused: the text people read (``field: what is wrong``), with the
    ``code`` and ``field`` programs match on.

    A ``str``, so lists of problems read, compare and serialise as the texts they always were; code
    that refuses input without a specific code may keep giving plain text (``code_of`` says
    ``invalid`` for it).

    >>> p = Problem("lat_deg", ProblemCode.OUT_OF_RANGE, "91.0 is outside [-90, 90]")
    >>> (p, p.code.value, p.field)
    ('lat_deg: 91.0 is outside [-90, 90]', 'out_of_range', 'lat_deg')
    """

    code: ProblemCode
    field: str

    def __new__(cls, field: str, code: ProblemCode, message: str) -> Problem:
        self = super().__new__(cls, f"{field}: {message}" if field else message)
        self.code = code
        self.field = field
        return self

    def __getnewargs__(self) -> tuple[str, ProblemCode, str]:  # type: ignore[override]  # copy and pickle
        return self.field, self.code, self[len(self.field) + 2 :] if self.field else str(self)


def code_of(problem: str) -> ProblemCode:
    """The code of a problem: its own for a ``Problem``, ``invalid`` for plain text."""
    return problem.code if isinstance(problem, Problem) else ProblemCode.INVALID


def field_of(problem: str) -> str:
    """The field a problem names: a ``Problem``'s own, else the text before the first ``": "`` (or "")."""
    if isinstance(problem, Problem):
        return problem.field
    field, found, _ = problem.partition(": ")
    return field if found else ""


class ValidationError(KeepclearError):
    """Input was refused; ``problems`` lists each reason with where it was found (``Problem`` or
    plain text), ``codes`` their machine codes in the same order."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) if self.problems else "invalid input")

    @property
    def codes(self) -> list[ProblemCode]:
        """The code of each problem, in order (``invalid`` where a problem has no specific code)."""
        return [code_of(p) for p in self.problems]


class NotFoundError(KeepclearError):
    """A named thing (party, force, unit, zone, ...) does not exist."""


class ConflictError(KeepclearError):
    """The request clashes with what is stored (a duplicate id, a stale version).

    ``current`` may carry the current state (e.g. the current version) for the caller to retry on.
    """

    def __init__(self, message: str, current: object = None) -> None:
        self.current = current
        super().__init__(message)


class AuthenticationError(KeepclearError):
    """No credentials, or credentials that are malformed, unknown or revoked."""


class ForbiddenError(KeepclearError):
    """The caller is known but its role or party may not do this."""


class OverloadedError(KeepclearError):
    """A bounded queue is full; try again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class UnavailableError(KeepclearError):
    """The service cannot take this write now (a bounded store is full); try again after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(message)


class StoreUnavailableError(UnavailableError):
    """The database cannot be reached or is going away (a restart, a failover, a network cut): nothing
    of the request was stored; try again after ``retry_after_s``.

    The message, which clients read, says only that; ``cause`` (the driver's words, naming the
    database's host and port) is for the logs, never for an answer: the callers are adversaries."""

    def __init__(
        self,
        cause: str,
        retry_after_s: float = 2.0,
        said: str = "the store cannot be reached now; nothing was stored; try again",
    ) -> None:
        #: Why, in the driver's words (its first line): for the logs only.
        self.cause = cause
        super().__init__(said, retry_after_s)
