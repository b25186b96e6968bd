"""``keepclear replay``: play a scenario into a fresh embedded deployment and write the after-action report."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import click
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from keepclear.cli.context import CliContext, pass_context
from keepclear.domain.timefmt import format_utc
from keepclear.errors import KeepclearError, ValidationError
from keepclear.scenario import DriverProgress, Scenario, resolve_scenario
from keepclear.settings import Settings


def parse_speed(text: str) -> float | None:
    """``max`` (None: as fast as possible) or a factor 1..1000; ``ValidationError`` otherwise."""
    if text.strip().lower() == "max":
        return None
    try:
        speed = float(text.lower().lstrip("x×"))
    except ValueError:
        raise ValidationError([f"--speed: {text!r} is neither a number (1 to 1000) nor 'max'"]) from None
    if not 1.0 <= speed <= 1000.0:
        raise ValidationError([f"--speed: {speed:g} must be between 1 and 1000 (or 'max')"])
    return speed


def load_scenario_arg(name_or_file: str) -> Scenario:
    """A bundled pack's name or a scenario file; problems listed on stderr, then one error line."""
    try:
        return resolve_scenario(name_or_file)
    except ValidationError as exc:
        for problem in exc.problems:
            click.echo(problem, err=True)
        raise KeepclearError(f"{len(exc.problems)} problem(s) in {name_or_file} (listed above)") from None


def fresh_data_dir(given: Path | None, prefix: str) -> Path:
    """``given`` if it is empty or missing (created), else an error; None: a new temporary folder."""
    if given is None:
        return Path(tempfile.mkdtemp(prefix=prefix))
    if given.exists() and any(given.iterdir()):
        raise KeepclearError(
            f"--data-dir {given} is not empty; give a new or empty folder (a run needs a fresh deployment)"
        )
    given.mkdir(parents=True, exist_ok=True)
    return given


def embedded_settings(base: Settings, data_dir: Path) -> Settings:
    """``base`` on the embedded SQLite store in ``data_dir``."""
    return base.model_copy(update={"data_dir": data_dir, "database_url": None})


@click.command()
@click.argument("name_or_file")
@click.option("--speed", default="max", show_default=True, help="Scenario seconds per wall second, 1..1000, or 'max'.")
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for report.html, report.json and figures/.",
)
@click.option("--seed", type=int, default=None, help="Seed of the simulated sensors (default: the scenario's).")
@click.option(
    "--data-dir",
    "run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the run's deployment (new or empty; default: a temporary folder).",
)
@pass_context
def replay(
    ctx: CliContext, name_or_file: str, speed: str, report_dir: Path, seed: int | None, run_dir: Path | None
) -> None:
    """Replay a scenario (a bundled pack's name or a file) without a browser and write the after-action report."""
    from keepclear.services.reports import MISSING_MATPLOTLIB, figures_available

    if not figures_available():
        raise click.UsageError(MISSING_MATPLOTLIB)
    from keepclear.services.reports.html import write_report
    from keepclear.services.runtime.scenario_run import ScenarioRun, ScenarioRunConfig

    pace = parse_speed(speed)
    scenario = load_scenario_arg(name_or_file)
    data_dir = fresh_data_dir(run_dir, "keepclear-replay-")
    settings = embedded_settings(ctx.settings, data_dir)
    run = ScenarioRun.create(scenario, data_dir, settings=settings, config=ScenarioRunConfig(speed=pace), seed=seed)
    span_s = scenario.end_s - scenario.start_s
    started = time.perf_counter()
    try:
        with Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[clock]}"),
            TextColumn("{task.fields[reports]} reports"), TimeElapsedColumn(), transient=False,
        ) as bar:  # fmt: skip
            task = bar.add_task(scenario.id, total=span_s, clock=format_utc(scenario.start_s), reports=0)

            def show(p: DriverProgress) -> None:
                bar.update(
                    task, completed=p.time_s - scenario.start_s, clock=format_utc(p.time_s), reports=p.reports_sent
                )

            run.run(progress=show)
        wall_s = time.perf_counter() - started
        report_dir.mkdir(parents=True, exist_ok=True)
        numbers = write_report(run, report_dir, wall_s)
    finally:
        run.close()
    check = numbers["check"]
    click.echo(
        f"{scenario.id}: {numbers['scenario']['reports_sent']} reports in {wall_s:.1f} s; deployment in {data_dir}"
    )
    for result in check["expectations"]:
        mark = "ok     " if result["met"] else "MISSING"
        click.echo(f"  {mark} {result['kind']}: {', '.join(result['what'])}")
    for alert in numbers["alerts"]:
        warning = alert["warning_s"]
        text = "no loss of separation" if warning is None else f"{warning / 60:.1f} min warning ({alert['loss_basis']})"
        click.echo(f"  alert {alert['alert_id']} {' / '.join(alert['units'])}: max {alert['max_level']}, {text}")
    click.echo(f"  {len(check['unexpected'])} unexpected event(s)")
    for item in check["unexpected"]:
        click.echo(f"    {item['time']} {item['kind']}")
    click.echo(f"report: {report_dir / 'report.html'} and {report_dir / 'report.json'}")
    if not check["all_met"]:
        raise KeepclearError("some expectations of the scenario did not occur (see above)")
