"""What every command receives: the settings, and a way to open the deployment."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.settings import Settings


class CliContext:
    """Settings chosen by flags, environment and file, read when a command first asks for them (a
    command that needs none, such as ``probe``, starts without loading pydantic and the settings)."""

    def __init__(self, load_settings: Callable[[], Settings]) -> None:
        self._load_settings = load_settings

    @cached_property
    def settings(self) -> Settings:
        """The settings (loaded and validated on first access)."""
        return self._load_settings()

    def open(self, *, create: bool = False) -> Deployment:
        """The deployment, refusing one that was never initialised unless ``create``; the record
        entries of its writes are signed as they are made (``Deployment.sign_writes``)."""
        from keepclear.services.runtime.deployment import Deployment

        deployment = Deployment.open(self.settings, create=create)
        deployment.sign_writes()
        return deployment


pass_context = click.make_pass_decorator(CliContext)
