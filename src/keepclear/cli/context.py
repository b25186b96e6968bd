"""What every command receives: the settings, and a way to open the deployment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.settings import Settings


@dataclass
class CliContext:
    """Settings chosen by flags, environment and file."""

    settings: Settings

    def open(self, *, create: bool = False) -> Deployment:
        """The deployment, refusing one that was never initialised unless ``create``; the record
        entries of its writes are signed as they are made (``Deployment.sign_writes``)."""
        from keepclear.services.runtime.deployment import Deployment

        deployment = Deployment.open(self.settings, create=create)
        deployment.sign_writes()
        return deployment


pass_context = click.make_pass_decorator(CliContext)
