"""Where a command's text goes: a file given with ``-o`` (written whole or not at all), or stdout."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

import click

from keepclear.errors import KeepclearError


def write_output(output: Path | None, text: str | Iterable[str], what: str) -> None:
    """Write ``text`` (or its pieces, as they come) to ``output``, or to stdout ended by a newline.
    A file is written beside it first and then put in its place: a write that fails (a full disk, a
    store that stops answering mid-export) leaves ``output`` as it was."""
    pieces = [text] if isinstance(text, str) else text
    if output is None:
        last = ""
        for piece in pieces:
            click.echo(piece, nl=False)
            last = piece or last
        if not last.endswith("\n"):
            click.echo()
        return
    part = output.with_name(output.name + ".part")
    try:
        with part.open("w", encoding="utf-8") as file:
            for piece in pieces:
                file.write(piece)
        part.replace(output)
    except OSError as exc:
        raise KeepclearError(f"{output}: cannot write ({exc.strerror})") from None
    finally:
        with contextlib.suppress(OSError):
            part.unlink(missing_ok=True)
    click.echo(f"{what} written to {output}", err=True)
