"""``keepclear incident ...``: incidents, their evidence, accounts, reviews and metrics from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click

from keepclear.cli.context import CliContext, pass_context
from keepclear.cli.output import write_output
from keepclear.cli.record import ledger_of
from keepclear.domain.incidents import ReviewStatus
from keepclear.domain.limits import one_line_text
from keepclear.domain.timefmt import format_utc, parse_utc
from keepclear.errors import KeepclearError, ValidationError
from keepclear.services.incidents.metrics import compute_metrics
from keepclear.services.incidents.service import IncidentService
from keepclear.services.reports.incident import incident_html
from keepclear.services.runtime.deployment import Deployment


def _incidents(deployment: Deployment) -> IncidentService:
    # No track history here: evidence is frozen by the service process, never empty by the CLI.
    return IncidentService(deployment.db, deployment.clock, deployment.bus, None)


@click.group()
def incident() -> None:
    """Incidents: what happened, its evidence, each party's account, the joint review."""


@incident.command("list")
@click.option("--party", default=None, help="Only incidents this party is involved in.")
@pass_context
def incident_list(ctx: CliContext, party: str | None) -> None:
    """List incidents: id, time, kind, status, parties, summary."""
    deployment = ctx.open()
    try:
        for i in _incidents(deployment).list(party_id=party):
            click.echo(
                f"{i.id}\t{format_utc(i.time_s)}\t{i.kind.value}\t{i.status.value}\t{','.join(i.parties)}"
                f"\t{one_line_text(i.summary)}"
            )
    finally:
        deployment.close()


@incident.command("show")
@click.argument("incident_id")
@pass_context
def incident_show(ctx: CliContext, incident_id: str) -> None:
    """Show one incident, its timeline and its accounts."""
    deployment = ctx.open()
    try:
        service = _incidents(deployment)
        i = service.get(incident_id)
        click.echo(f"incident {i.id}: {i.kind.value}, {i.status.value}, at {format_utc(i.time_s)}")
        click.echo(
            f"parties: {', '.join(i.parties)}; units: {', '.join(i.unit_ids) or '-'}; alerts: {', '.join(i.alert_ids) or '-'}"
        )
        click.echo(f"summary: {one_line_text(i.summary)}")
        click.echo(f"evidence: {i.evidence_sha256 or 'not frozen yet'}")
        for t in service.timeline(incident_id):
            click.echo(f"  {format_utc(t.time_s)}\t{t.kind}\t{t.party_id or '-'}")
        for a in service.accounts(incident_id):
            amends = f" (amends #{a.amends})" if a.amends is not None else ""
            click.echo(
                f"account #{a.position} by {a.party_id}{amends} at {format_utc(a.time_s)}:\n  {one_line_text(a.text)}"
            )
    finally:
        deployment.close()


@incident.command("report")
@click.argument("incident_id")
@click.option(
    "-o", "--output-dir", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write into."
)
@click.option("--lang", "language", default="en", show_default=True, help="Language of the report (en, ru).")
@pass_context
def incident_report(ctx: CliContext, incident_id: str, output_dir: Path, language: str) -> None:
    """Write INCIDENT_ID's report as one self-contained HTML file (map figure, timeline, accounts)."""
    deployment = ctx.open()
    try:
        service = _incidents(deployment)
        i = service.get(incident_id)
        text = incident_html(
            i,
            service.accounts(incident_id),
            service.timeline(incident_id),
            service.evidence(incident_id),
            generated_s=deployment.clock.now_s(),
            language=language,
        )
    finally:
        deployment.close()
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KeepclearError(f"{output_dir}: cannot create ({exc.strerror})") from None
    write_output(output_dir / f"incident-{incident_id}.html", text, "report")


@incident.command("review")
@click.argument("incident_id")
@click.argument("status", type=click.Choice([s.value for s in ReviewStatus]))
@click.option("--party", default=None, help="The party moving the review (default: the operator).")
@click.option("--note", default="", help="Why.")
@pass_context
def incident_review(ctx: CliContext, incident_id: str, status: str, party: str | None, note: str) -> None:
    """Move the review of INCIDENT_ID: a party's step is its own stance (agreed once every involved
    party agrees, closed only then); the operator's sets the status."""
    deployment = ctx.open()
    try:
        done = _incidents(deployment).set_review(incident_id, ReviewStatus(status), by_party=party, note=note)
    finally:
        deployment.close()
    agreed = (
        f" (agreed by {', '.join(done.agreed_by)})" if done.agreed_by and done.status is not ReviewStatus.CLOSED else ""
    )
    click.echo(f"{incident_id}: {done.status.value}{agreed}")


@incident.command("metrics")
@click.option("--from", "from_text", required=True, help="Start of the period (ISO 8601 UTC, included).")
@click.option("--to", "to_text", required=True, help="End of the period (ISO 8601 UTC, excluded).")
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="File (default stdout)."
)
@pass_context
def incident_metrics(ctx: CliContext, from_text: str, to_text: str, fmt: str, output: Path | None) -> None:
    """Metrics of a period from the ledger: incidents by kind, line crossings, acknowledgement delays, escalations."""
    try:
        from_s, until_s = parse_utc(from_text, "--from"), parse_utc(to_text, "--to")
    except ValueError as exc:
        raise ValidationError([str(exc)]) from None
    if until_s <= from_s:
        raise ValidationError(["--to: must be after --from"])
    deployment = ctx.open()
    try:
        entries = ledger_of(deployment).entries(from_s=from_s, until_s=until_s)
    finally:
        deployment.close()
    metrics = compute_metrics(entries, from_s, until_s)
    text = json.dumps(metrics.to_json(), indent=2) + "\n" if fmt == "json" else metrics.to_csv()
    write_output(output, text, "metrics")
