"""``keepclear scenario list / check``: the bundled packs, and validating a scenario file."""

from __future__ import annotations

import click

from keepclear.domain.timefmt import format_utc
from keepclear.errors import KeepclearError, ValidationError
from keepclear.scenario import Simulator, pack_names, resolve_scenario


@click.group()
def scenario() -> None:
    """Scenarios: bundled packs and your own files (YAML plus GeoJSON zones)."""


@scenario.command("list")
def scenario_list() -> None:
    """The bundled scenario packs."""
    for name in pack_names():
        loaded = resolve_scenario(name)
        hours = (loaded.end_s - loaded.start_s) / 3600
        click.echo(f"{name}\t{loaded.name} ({hours:.1f} h, {len(loaded.plans)} units, {len(loaded.parties)} parties)")


@scenario.command("check")
@click.argument("name_or_file")
def scenario_check(name_or_file: str) -> None:
    """Validate a scenario (a pack's name or a file); every problem is listed with its line."""
    try:
        loaded = resolve_scenario(name_or_file)
    except ValidationError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise KeepclearError(f"{len(exc.problems)} problem(s) in {name_or_file} (listed above)") from None
    reports = Simulator(loaded).report_count()
    click.echo(f"{loaded.id}: {loaded.name}")
    click.echo(f"  {format_utc(loaded.start_s)} .. {format_utc(loaded.end_s)}")
    click.echo(
        f"  {len(loaded.parties)} parties, {len(loaded.forces)} forces, {len(loaded.plans)} units, "
        f"{len(loaded.zones)} zones, {len(loaded.activities)} activities, {len(loaded.messages)} messages, "
        f"{reports} track reports"
    )
    for expectation in loaded.expectations:
        what = ", ".join(
            [*expectation.activities, *expectation.units, *([expectation.zone] if expectation.zone else [])]
        )
        click.echo(f"  expects {expectation.kind.value}: {what}")
