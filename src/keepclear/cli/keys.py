"""``keepclear keys create / list / revoke``."""

from __future__ import annotations

import click

from keepclear.cli.context import CliContext, pass_context
from keepclear.domain.identity import Role
from keepclear.domain.limits import one_line_text
from keepclear.domain.timefmt import format_utc


@click.group()
def keys() -> None:
    """API keys: one role each (admin, liaison, feed, observer); secrets shown once."""


@keys.command("create")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--party", "party_id", default=None, help="The party it acts for (not for admin).")
@click.option("--label", default="", help="What it is for (shown in listings).")
@pass_context
def keys_create(ctx: CliContext, role: str, party_id: str | None, label: str) -> None:
    """Create a key and print it once; only its hash is stored."""
    deployment = ctx.open()
    try:
        info, key = deployment.keys.create(Role(role), party_id, label)
    finally:
        deployment.close()
    click.echo(key)
    click.echo(
        f"key {info.key_id} ({info.role.value}{' for ' + party_id if party_id else ''}): store it now, it is not shown again",
        err=True,
    )


@keys.command("list")
@pass_context
def keys_list(ctx: CliContext) -> None:
    """List keys: id, role, party, label, created, revoked."""
    deployment = ctx.open()
    try:
        for k in deployment.keys.list():
            revoked = format_utc(k.revoked_s) if k.revoked_s is not None else "active"
            click.echo(
                f"{k.key_id}\t{k.role.value}\t{k.party_id or '-'}\t{one_line_text(k.label)}\t{format_utc(k.created_s)}\t{revoked}"
            )
    finally:
        deployment.close()


@keys.command("revoke")
@click.argument("key_id")
@pass_context
def keys_revoke(ctx: CliContext, key_id: str) -> None:
    """Revoke a key; it is refused from the next request on."""
    deployment = ctx.open()
    try:
        deployment.keys.revoke(key_id)
    finally:
        deployment.close()
    click.echo(f"key {key_id} revoked")
