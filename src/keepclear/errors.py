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
    """The request clashes with what is stored (a duplicate id, a stale version)."""
