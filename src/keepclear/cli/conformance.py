"""``keepclear conformance URL --keys FILE``: run the conformance suite against a deployment."""

from __future__ import annotations

from pathlib import Path

import click


@click.command()
@click.argument("url")
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    required=True,
    help="YAML or JSON: admin key, and per party a liaison, observer and feed key (docs/conformance.md).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON instead of lines.")
@click.option("--expect-fail", "expect_fail", multiple=True, help="A check known to fail (repeatable).")
@click.option(
    "--known-failures",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="File of known failures: a check name a line, '# reason' after it.",
)
@click.option("--only", multiple=True, help="Report only checks whose name starts with this (repeatable).")
@click.option("--place", default=None, help="LAT,LON of the run's aircraft (default: open sea, -48,-128).")
def conformance(
    url: str,
    keys_file: Path,
    as_json: bool,
    expect_fail: tuple[str, ...],
    known_failures: Path | None,
    only: tuple[str, ...],
    place: str | None,
) -> None:
    """Check a running deployment: need to know, lifecycles, bad input. Exit 0 only when all pass."""
    from keepclear.conformance import load_keys, load_known_failures, run_suite
    from keepclear.conformance.runner import DEFAULT_PLACE_DEG

    known = load_known_failures(known_failures) if known_failures else {}
    known.update({name: "named with --expect-fail" for name in expect_fail})
    try:
        lat, lon = (float(v) for v in place.split(",")) if place else DEFAULT_PLACE_DEG
    except ValueError:
        raise click.BadParameter(f"{place!r} is not LAT,LON in degrees", param_hint="--place") from None
    report = run_suite(
        url,
        load_keys(keys_file),
        known=known,
        only=list(only) or None,
        place_deg=(lat, lon),
        on_outcome=None
        if as_json
        else lambda o: click.echo(f"{o.status:5} {o.name}" + (f" — {o.reason}" if o.reason else "")),
    )
    if as_json:
        click.echo(report.to_json())
    else:
        for line in report.lines()[len(report.outcomes) :]:
            click.echo(line)
    if not report.ok:
        raise click.exceptions.Exit(1)
