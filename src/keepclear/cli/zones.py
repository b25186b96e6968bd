"""``keepclear zones import / export / list`` (and ``proposals / accept / refuse``)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from keepclear.cli.context import CliContext, pass_context
from keepclear.domain.limits import one_line_text
from keepclear.domain.timefmt import format_utc
from keepclear.errors import KeepclearError
from keepclear.services.zones.service import parse_geojson_text


@click.group()
def zones() -> None:
    """Shared geography: de-escalation zones, deconfliction lines, caution areas, protected sites."""


@zones.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--replace", is_flag=True, help="Overwrite stored zones that have the same id.")
@pass_context
def zones_import(ctx: CliContext, file: Path, replace: bool) -> None:
    """Import zones from a GeoJSON FeatureCollection: all of them, or none."""
    limits = ctx.settings.input_limits()
    try:
        # Bounded before reading: a huge file is refused at once, not after minutes and gigabytes.
        size_bytes = file.stat().st_size
        if size_bytes > limits.max_zone_file_bytes:
            raise KeepclearError(
                f"{file}: {size_bytes} bytes, over the limit of {limits.max_zone_file_bytes} bytes"
                " (setting max_zone_file_bytes); split the zones over several files"
            )
        raw = file.read_bytes()
    except OSError as exc:
        raise KeepclearError(f"{file}: {exc.strerror}") from None
    document = parse_geojson_text(raw, str(file), limits)
    deployment = ctx.open()
    try:
        imported = deployment.zones.import_document(document, replace=replace)
    finally:
        deployment.close()
    click.echo(f"imported {len(imported)} zones from {file}")


@zones.command("export")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="File (default stdout).",
)
@pass_context
def zones_export(ctx: CliContext, output: Path | None) -> None:
    """Export every zone as GeoJSON."""
    deployment = ctx.open()
    try:
        text = json.dumps(deployment.zones.export_document(), indent=2)
    finally:
        deployment.close()
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n", encoding="utf-8")
        click.echo(f"exported to {output}", err=True)


@zones.command("check")
@pass_context
def zones_check(ctx: CliContext) -> None:
    """List the stored zones an import would refuse today (stored before a rule was made), one
    problem a line; exit 1 when there is one. Nothing is changed: correct them and import again."""
    deployment = ctx.open()
    try:
        stored, refused = deployment.zones.check()
    finally:
        deployment.close()
    for zone_id, problems in sorted(refused.items()):
        for problem in problems:
            click.echo(f"{zone_id}\t{problem}")
    if refused:
        click.echo(f"{len(refused)} of {stored} stored zones would be refused on import today", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"all {stored} stored zones pass today's import rules", err=True)


@zones.command("list")
@pass_context
def zones_list(ctx: CliContext) -> None:
    """List zones: id, kind, name, altitude band, validity, who may operate inside."""
    deployment = ctx.open()
    try:
        for z in deployment.zones.list():
            valid = "-".join(
                "open" if t is None else format_utc(t) for t in (z.validity.valid_from_s, z.validity.valid_until_s)
            )
            permitted = (
                "*" if z.rules.permitted_parties is None else ",".join(sorted(z.rules.permitted_parties)) or "none"
            )
            click.echo(
                f"{z.id}\t{z.kind.value}\t{one_line_text(z.name)}\t{z.altitude.lower_ft:g}-{z.altitude.upper_ft:g} ft\t{valid}"
                f"\tpermitted={permitted}\tnotice={z.rules.min_notice_h:g}h"
            )
    finally:
        deployment.close()


def _add_proposal_commands() -> None:
    from keepclear.cli.zone_proposals import zones_accept, zones_proposals, zones_refuse

    for command in (zones_proposals, zones_accept, zones_refuse):
        zones.add_command(command)


_add_proposal_commands()
