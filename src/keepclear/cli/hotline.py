"""``keepclear phrases list``: the standard phrase catalogue, in a language of choice."""

from __future__ import annotations

from pathlib import Path

import click

from keepclear.services.hotline.phrases import load_catalogue


@click.group()
def phrases() -> None:
    """The hotline's standard phrases (codes with fixed meaning, read in each party's language)."""


@phrases.command("list")
@click.option("--language", default="en", show_default=True, help="Language of the wording (en, ru).")
@click.option(
    "--extra",
    "extra",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="A deployment's own phrase file (YAML) merged over the packaged one; repeatable.",
)
def phrases_list(language: str, extra: tuple[Path, ...]) -> None:
    """List every phrase: code, parameters, wording, expected response."""
    catalogue = load_catalogue(list(extra))
    for code in catalogue.codes():
        phrase = catalogue.get(code)
        wording = phrase.text.get(language) or phrase.text["en"]
        params = ",".join(phrase.parameters) or "-"
        click.echo(f"{code}\t{params}\t{wording}\t→ {phrase.expected_response}")
