"""Errors every layer may raise; the API and CLI map them to answers in one place each."""

from __future__ import annotations


class KeepclearError(Exception):
    """Base of every error keepclear reports to a person: the message says what and where."""


class ValidationError(KeepclearError):
    """Input was refused; ``problems`` lists each reason with where it was found."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems) if self.problems else "invalid input")


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
