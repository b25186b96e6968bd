"""The command table: each command's module is imported only when that command runs.

``keepclear --help`` and ``--version`` must answer at once, so the group lists commands from this
table (name, where the command lives, its one-line summary) instead of importing every capability
(numba, SQLAlchemy, FastAPI, matplotlib) to read their docstrings. A test keeps the summaries equal
to the commands' own first help lines.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import click


@dataclass(frozen=True)
class CommandEntry:
    """Where a command lives (``module:attribute``) and the line ``--help`` shows for it."""

    target: str
    summary: str

    def load(self) -> click.Command:
        """Import the command's module and return the command."""
        module_name, _, attribute = self.target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{self.target} is not a click command")
        return command


COMMANDS: dict[str, CommandEntry] = {
    "activity": CommandEntry(
        "keepclear.cli.activities:activity",
        "Strategic deconfliction: notified activities, acknowledgements, conflicts.",
    ),
    "conformance": CommandEntry(
        "keepclear.cli.conformance:conformance",
        "Check a running deployment: need to know, lifecycles, bad input. Exit 0 only when all pass.",
    ),
    "demo": CommandEntry(
        "keepclear.cli.demo:demo",
        "Start keepclear on the founding scenario: service, console address and a key per party, live progress.",
    ),
    "force": CommandEntry(
        "keepclear.cli.deployment:force",
        "Forces: bodies of units a party answers for (its own or a partner's).",
    ),
    "incident": CommandEntry(
        "keepclear.cli.incident:incident",
        "Incidents: what happened, its evidence, each party's account, the joint review.",
    ),
    "init": CommandEntry(
        "keepclear.cli.deployment:init",
        "Create the deployment (database and schema) in the data folder; safe to run again.",
    ),
    "interop": CommandEntry(
        "keepclear.cli.interop:interop",
        "Adapters to the tools forces already run: CoT/TAK in and out, ADS-B (SBS-1, Mode S, Beast), ASTERIX and AIS in.",
    ),
    "keys": CommandEntry(
        "keepclear.cli.keys:keys",
        "API keys: one role each (admin, liaison, feed, observer); secrets shown once.",
    ),
    "ledger": CommandEntry(
        "keepclear.cli.record:ledger",
        "The signed, hash-chained record every party can verify offline.",
    ),
    "party": CommandEntry(
        "keepclear.cli.deployment:party",
        "Parties: independent actors with their own liaison cell.",
    ),
    "phrases": CommandEntry(
        "keepclear.cli.hotline:phrases",
        "The hotline's standard phrases (codes with fixed meaning, read in each party's language).",
    ),
    "probe": CommandEntry(
        "keepclear.cli.probe:probe",
        "Predict losses of separation among the units of STATES.csv, one CSV row per unordered pair.",
    ),
    "replay": CommandEntry(
        "keepclear.cli.replay:replay",
        "Replay a scenario (a bundled pack's name or a file) without a browser and write the after-action report.",
    ),
    "scenario": CommandEntry(
        "keepclear.cli.scenario:scenario",
        "Scenarios: bundled packs and your own files (YAML plus GeoJSON zones).",
    ),
    "serve": CommandEntry(
        "keepclear.cli.serve:serve",
        "Run the service until interrupted (Ctrl-C stops it cleanly).",
    ),
    "unit": CommandEntry(
        "keepclear.cli.deployment:unit",
        "Units: tracked aircraft, ground units, vessels, UAVs, convoys.",
    ),
    "worker": CommandEntry(
        "keepclear.cli.worker:worker",
        "Workers of a scale-out deployment (bus_url): detector workers that probe a set of cells.",
    ),
    "zones": CommandEntry(
        "keepclear.cli.zones:zones",
        "Shared geography: de-escalation zones, deconfliction lines, caution areas, protected sites.",
    ),
}


class LazyGroup(click.Group):
    """A click group whose subcommands come from a table and are imported on first use."""

    def __init__(self, *args: object, table: dict[str, CommandEntry], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._table = table

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self._table) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in self._table:
            self.add_command(self._table[cmd_name].load(), cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the table's summaries, without importing any command; each summary
        whole (wrapped, never cut mid-phrase)."""
        names = self.list_commands(ctx)
        if not names:
            return
        rows = []
        for name in names:
            entry = self._table.get(name)
            rows.append((name, entry.summary if entry else self.commands[name].get_short_help_str(10_000)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)
