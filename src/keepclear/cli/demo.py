"""``keepclear demo``: a fresh embedded deployment, the founding pack, the service and the simulator, in one command.

The service runs on the scenario's clock (the driver advances it), so scenario times are accepted
by every route; each party gets a liaison key to sign in with. Ctrl-C stops everything cleanly.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from types import FrameType

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn

from keepclear.cli.context import CliContext, pass_context
from keepclear.cli.replay import embedded_settings, fresh_data_dir, load_scenario_arg, parse_speed
from keepclear.domain.identity import Role
from keepclear.domain.timefmt import format_utc
from keepclear.scenario import DriverProgress, PartyRole, Scenario

DEFAULT_SCENARIO = "euphrates-2017"


@click.command()
@click.option(
    "--dir",
    "run_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the deployment (new or empty; default: a temporary folder).",
)
@click.option("--speed", default="60", show_default=True, help="Scenario seconds per wall second, 1..1000, or 'max'.")
@click.option("--port", type=int, default=None, help="Port of the service (default from settings: 8080).")
@click.option(
    "--scenario",
    "name_or_file",
    default=DEFAULT_SCENARIO,
    show_default=True,
    help="A bundled pack's name or a scenario file.",
)
@click.option("--seed", type=int, default=None, help="Seed of the simulated sensors (default: the scenario's).")
@pass_context
def demo(
    ctx: CliContext, run_dir: Path | None, speed: str, port: int | None, name_or_file: str, seed: int | None
) -> None:
    """Start keepclear on the founding scenario: service, console address and a key per party, live progress."""
    from keepclear.api.app import create_app
    from keepclear.api.server import SLOW_START_NOTICE, ThreadedServer, bind_listener
    from keepclear.services.runtime.scenario_run import ScenarioRun, ScenarioRunConfig, open_scenario_deployment

    pace = parse_speed(speed)
    # The port first: a taken port is told at once, before the deployment is built or kernels compile.
    listener = bind_listener("127.0.0.1", port or ctx.settings.port)
    scenario = load_scenario_arg(name_or_file)
    if seed is not None:
        import dataclasses

        scenario = dataclasses.replace(scenario, seed=seed)
    data_dir = fresh_data_dir(run_dir, "keepclear-demo-")
    settings = embedded_settings(ctx.settings, data_dir)
    config = ScenarioRunConfig(speed=pace)
    deployment, clock = open_scenario_deployment(scenario, settings)
    # A party signs in as its liaison cell; an observer party (the UN in the founding pack) as an observer.
    roles = {
        spec.party.id: Role.OBSERVER if spec.role is PartyRole.OBSERVER else Role.LIAISON for spec in scenario.parties
    }
    keys = {party: (role, deployment.keys.create(role, party, "demo")[1]) for party, role in roles.items()}
    app = create_app(settings, deployment=deployment, runtime_config=config.runtime_config(settings))
    run = ScenarioRun(scenario, deployment, clock, app.state.runtime, config)
    server = ThreadedServer(app, host="127.0.0.1", listener=listener)
    stop = threading.Event()

    def interrupt(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    console = Console()
    try:
        server.start(on_slow=lambda: console.print(SLOW_START_NOTICE, highlight=False))
        console.print(f"[bold]keepclear demo[/]: {scenario.name} ({scenario.id}), deployment in {data_dir}")
        console.print(f"console: {server.url}/")
        for party, (role, key) in keys.items():
            console.print(f"  {role.value} key for {party}: {key}", soft_wrap=True)
        for line in story_lines(scenario, pace):
            console.print(line, highlight=False, markup=False, soft_wrap=True)
        console.print("Ctrl-C stops the demo.", highlight=False)
        latest: list[DriverProgress] = []
        driver = threading.Thread(
            target=lambda: run.run(progress=latest.append, stop=stop), name="keepclear-demo-driver", daemon=True
        )
        driver.start()
        with Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[clock]}"),
                      TextColumn("{task.fields[alerts]} alerts open"), console=console) as bar:  # fmt: skip
            task = bar.add_task(
                scenario.id, total=scenario.end_s - scenario.start_s, clock=format_utc(scenario.start_s), alerts=0
            )
            while not stop.wait(0.25):
                if latest:
                    p = latest[-1]
                    alerts = len(run.runtime.tactical.book)
                    bar.update(task, completed=p.time_s - scenario.start_s, clock=format_utc(p.time_s), alerts=alerts)
        driver.join(timeout=30)
    finally:
        stop.set()
        server.stop()
        deployment.close()
        signal.signal(signal.SIGINT, previous)
    click.echo(f"stopped; the deployment stays in {data_dir}")


def _wall(seconds: float) -> str:
    whole = round(seconds)
    return (
        f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"
        if whole >= 3600
        else f"{whole // 60}:{whole % 60:02d}"
    )


def story_lines(scenario: Scenario, speed: float | None) -> list[str]:
    """What the demo will show and when: the run's length, then each beat of the scenario's story at its
    scenario time and the wall time it comes after the start at ``speed`` (None: as fast as possible)."""
    length_s = scenario.end_s - scenario.start_s
    span = f"{format_utc(scenario.start_s)} to {format_utc(scenario.end_s)}"
    if speed is None:
        lines = [f"Scenario time {span}, played as fast as the machine allows."]
    else:
        lines = [f"Scenario time {span} at x{speed:g}: {_wall(length_s / speed)} of wall time."]
    if scenario.story:
        lines.append("What to watch (scenario time, wall time after the start):")
    for beat in scenario.story:
        clock = format_utc(beat.at_s)[11:16] + "Z"
        after = "-" if speed is None else f"+{_wall((beat.at_s - scenario.start_s) / speed)}"
        lines.append(f"  {clock}  {after:>8}  {beat.text}")
    lines.append("Alerts stay listed after they resolve, for review (GET /v1/alerts?include_resolved=true).")
    return lines
