"""``keepclear zones proposals|accept|refuse``: zone proposals drawn on a party's TAK, decided by an admin."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click

from keepclear.cli.context import CliContext, pass_context

if TYPE_CHECKING:
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.services.zones.proposals import ZoneProposals


#: Proposals read at a time: the list is printed as it is read, never held whole.
PAGE_ITEMS = 1000


def _every(proposals: ZoneProposals, state: str | None, party_id: str | None) -> Iterator[dict[str, Any]]:
    """The proposals in ``state`` (None: every state) of ``party_id`` (None: every party's), oldest
    first, read ``PAGE_ITEMS`` at a time."""
    after: tuple[float, str] | None = None
    while True:
        found, more = proposals.page(state, after, PAGE_ITEMS, party_id)
        yield from found
        if not more or not found:
            return
        after = (found[-1]["proposed_s"], found[-1]["id"])


def _proposals(ctx: CliContext) -> tuple[Deployment, ZoneProposals]:
    deployment = ctx.open()
    return deployment, deployment.zone_proposals


def _decision(proposal: dict[str, Any]) -> str:
    """What became of ``proposal``, on one line (a reason is the admin's free text)."""
    from keepclear.domain.limits import one_line_text

    if proposal["state"] == "accepted":
        return f"accepted as zone {proposal['zone_id']}"
    if proposal["state"] == "refused":
        return f"refused: {one_line_text(proposal['reason'] or '')}"
    return "pending"


@click.command("proposals")
@click.option(
    "--state",
    type=click.Choice(["pending", "accepted", "refused", "all"]),
    default="pending",
    show_default=True,
)
@click.option(
    "--party", "party_id", default=None, help="Only this party's (what its keys read); default: every party's."
)
@pass_context
def zones_proposals(ctx: CliContext, state: str, party_id: str | None) -> None:
    """List zone proposals (shapes a party drew on its TAK), each with its decision."""
    deployment, proposals = _proposals(ctx)
    try:
        for p in _every(proposals, None if state == "all" else state, party_id):
            geometry = p["geometry"]
            if geometry is None:
                shape = f"unreadable ({'; '.join(p['problems'])[:200]}): refuse it"
            elif geometry["type"] == "Point":
                shape = f"Circle of radius {geometry['radius_m']:g} m"
            else:
                vertices = geometry["coordinates"]
                count = len(vertices[0] if geometry["type"] == "Polygon" else vertices)
                shape = f"{geometry['type']} of {count} positions"
            click.echo(f"{p['id']}  party {p['party_id']}  {shape}  {p['name']!r}  from {p['source']}  {_decision(p)}")
    finally:
        deployment.close()


@click.command("accept")
@click.argument("proposal_id")
@click.option("--zone-id", required=True, help="The id of the zone it becomes.")
@click.option("--kind", required=True, help="The zone's kind, e.g. special-caution-area.")
@click.option("--properties", default="{}", help="More zone properties as JSON, e.g. '{\"upper_ft\": 10000}'.")
@pass_context
def zones_accept(ctx: CliContext, proposal_id: str, zone_id: str, kind: str, properties: str) -> None:
    """Make a proposal an agreed zone (validated and recorded as any zone import)."""
    from keepclear.domain.zones import ZoneKind

    try:
        zone_kind = ZoneKind(kind)
    except ValueError:
        raise click.BadParameter(f"{kind!r} is not one of {', '.join(k.value for k in ZoneKind)}") from None
    try:
        extra = json.loads(properties)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--properties") from None
    deployment, proposals = _proposals(ctx)
    try:
        proposals.accept(proposal_id, zone_id, zone_kind, extra)
    finally:
        deployment.close()
    click.echo(f"accepted {proposal_id} as zone {zone_id}")


@click.command("refuse")
@click.argument("proposal_id")
@click.option("--reason", required=True, help="Why (kept with the proposal).")
@pass_context
def zones_refuse(ctx: CliContext, proposal_id: str, reason: str) -> None:
    """Refuse a proposal."""
    deployment, proposals = _proposals(ctx)
    try:
        proposals.refuse(proposal_id, reason)
    finally:
        deployment.close()
    click.echo(f"refused {proposal_id}")
