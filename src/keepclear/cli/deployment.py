"""``keepclear init``, ``party``, ``force`` and ``unit`` commands."""

from __future__ import annotations

import click

from keepclear.cli.context import CliContext, pass_context
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.limits import one_line_text
from keepclear.domain.parties import Contact


@click.command()
@pass_context
def init(ctx: CliContext) -> None:
    """Create the deployment (database and schema) in the data folder; safe to run again."""
    deployment = ctx.open(create=True)
    deployment.close()
    click.echo(f"deployment ready: {ctx.settings.resolved_database_url()}")


@click.group()
def party() -> None:
    """Parties: independent actors with their own liaison cell."""


@party.command("add")
@click.argument("party_id")
@click.option("--name", help="Display name (default: the id).")
@click.option("--language", default="en", show_default=True, help="Language its people read (en, ru, ar, fr).")
@click.option("--contact", "contacts", multiple=True, help="Escalation roster entry 'Name[:role]', in order.")
@pass_context
def party_add(ctx: CliContext, party_id: str, name: str | None, language: str, contacts: tuple[str, ...]) -> None:
    """Add a party."""
    roster = [Contact(*c.split(":", 1)) if ":" in c else Contact(c) for c in contacts]
    deployment = ctx.open()
    try:
        deployment.registry.add_party(Party(party_id, name or party_id, language), roster)
    finally:
        deployment.close()
    click.echo(f"party {party_id} added")


@party.command("list")
@pass_context
def party_list(ctx: CliContext) -> None:
    """List parties."""
    deployment = ctx.open()
    try:
        for p in deployment.registry.parties():
            roster = ", ".join(c.name for c in deployment.registry.roster(p.id))
            click.echo(f"{p.id}\t{one_line_text(p.name)}\t{p.language}\t{one_line_text(roster)}")
    finally:
        deployment.close()


@click.group()
def force() -> None:
    """Forces: bodies of units a party answers for (its own or a partner's)."""


@force.command("add")
@click.argument("force_id")
@click.option("--party", "party_id", required=True, help="The party that answers for it.")
@click.option("--name", help="Display name (default: the id).")
@click.option("--partner", is_flag=True, help="A partner force rather than the party's own.")
@pass_context
def force_add(ctx: CliContext, force_id: str, party_id: str, name: str | None, partner: bool) -> None:
    """Add a force."""
    deployment = ctx.open()
    try:
        deployment.registry.add_force(Force(force_id, name or force_id, party_id, partner))
    finally:
        deployment.close()
    click.echo(f"force {force_id} added to {party_id}")


@force.command("list")
@click.option("--party", "party_id", default=None)
@pass_context
def force_list(ctx: CliContext, party_id: str | None) -> None:
    """List forces."""
    deployment = ctx.open()
    try:
        for f in deployment.registry.forces(party_id):
            click.echo(f"{f.id}\t{one_line_text(f.name)}\t{f.party_id}\t{'partner' if f.partner else 'own'}")
    finally:
        deployment.close()


@click.group()
def unit() -> None:
    """Units: tracked aircraft, ground units, vessels, UAVs, convoys."""


@unit.command("add")
@click.argument("unit_id")
@click.option("--force", "force_id", required=True, help="The force it belongs to.")
@click.option("--domain", type=click.Choice([d.value for d in Domain]), required=True)
@click.option("--kind", default="", help="What it is (fighter, convoy, frigate...).")
@click.option("--callsign", default=None, help="Callsign (default: the id, upper-cased).")
@pass_context
def unit_add(ctx: CliContext, unit_id: str, force_id: str, domain: str, kind: str, callsign: str | None) -> None:
    """Add a unit."""
    deployment = ctx.open()
    try:
        deployment.registry.add_unit(Unit(unit_id, callsign or unit_id.upper(), Domain(domain), kind, force_id))
    finally:
        deployment.close()
    click.echo(f"unit {unit_id} added to {force_id}")


@unit.command("list")
@click.option("--party", "party_id", default=None)
@pass_context
def unit_list(ctx: CliContext, party_id: str | None) -> None:
    """List units."""
    deployment = ctx.open()
    try:
        for u, owner in deployment.registry.units(party_id):
            callsign, kind = one_line_text(u.callsign), one_line_text(u.kind)
            click.echo(f"{u.id}\t{callsign}\t{u.domain.value}\t{kind}\t{u.force_id}\t{owner}")
    finally:
        deployment.close()
