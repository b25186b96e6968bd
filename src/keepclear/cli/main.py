"""Entry point of the ``keepclear`` command."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from keepclear import __version__
from keepclear.cli.lazy import COMMANDS, LazyGroup
from keepclear.errors import KeepclearError

if TYPE_CHECKING:
    from keepclear.settings import Settings


@click.group(cls=LazyGroup, table=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="keepclear")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Deployment folder (default ./keepclear-data, or KEEPCLEAR_DATA_DIR).",
)
@click.option("--database-url", default=None, help="Database URL (default: SQLite in the data folder).")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Settings file (TOML).",
)
@click.pass_context
def cli(ctx: click.Context, data_dir: Path | None, database_url: str | None, config_file: Path | None) -> None:
    """keepclear: deconfliction between parties whose forces share the same space."""
    # Imported here, not at the top: ``--help`` and ``--version`` answer before any capability loads.
    from keepclear.cli.context import CliContext

    def settings() -> Settings:
        from keepclear.settings import load_settings

        return load_settings(config_file, data_dir=data_dir, database_url=database_url)

    ctx.obj = CliContext(settings)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; every failure is one line on stderr and a non-zero exit, never a traceback."""
    try:
        # A command that ends with click.exceptions.Exit(code) (conformance: 1 when not all pass) returns it.
        code = cli.main(args=argv, prog_name="keepclear", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except KeepclearError as exc:
        click.echo(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    except Exception as exc:
        click.echo(f"internal error: {type(exc).__name__}: {exc} (please report this)", err=True)
        return 70
    return 0


if __name__ == "__main__":
    sys.exit(main())
