"""``keepclear probe STATES.csv``: the tactical probe on a file of states, conflicts as CSV."""

from __future__ import annotations

import csv
import sys
from dataclasses import replace
from pathlib import Path

import click

from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.probe import probe as run_probe
from keepclear.detect.statecsv import StatesCsvError, parse_states_csv
from keepclear.errors import KeepclearError, ValidationError

_DEFAULT = ProbeSettings().air_air


@click.command("probe")
@click.argument("states_file", metavar="STATES.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--horizontal-m", type=float, default=_DEFAULT.horizontal_m, show_default=True, help="Horizontal minimum (m)."
)
@click.option("--vertical-m", type=float, default=_DEFAULT.vertical_m, show_default=True, help="Vertical minimum (m).")
@click.option("--lookahead-s", type=float, default=_DEFAULT.lookahead_s, show_default=True, help="Lookahead (s).")
def probe(states_file: Path, horizontal_m: float, vertical_m: float, lookahead_s: float) -> None:
    """Predict losses of separation among the units of STATES.csv, one CSV row per unordered pair.

    Columns: id,lat_deg,lon_deg,alt_m,gs_mps,trk_deg,vs_mps and optionally party and domain
    (air/land/sea); without them each row is its own party, in the air. The minima given apply
    to air-air pairs; other pairs of domains keep their defaults.
    """
    minima = SeparationMinima(horizontal_m, vertical_m, lookahead_s)
    if minima.problems():
        raise ValidationError(minima.problems())
    try:
        text = states_file.read_text(encoding="utf-8")
    except OSError as exc:
        raise KeepclearError(f"{states_file}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise KeepclearError(f"{states_file}: not UTF-8 text") from None
    try:
        states = parse_states_csv(text, str(states_file))
    except StatesCsvError as exc:
        raise ValidationError(exc.problems) from None
    conflicts = run_probe(states, 0.0, replace(ProbeSettings(), air_air=minima))
    rows = []
    ids = conflicts.unit_ids
    for k, (ra, rb) in enumerate(zip(conflicts.row_a.tolist(), conflicts.row_b.tolist(), strict=True)):
        a, b = sorted((ids[ra], ids[rb]))
        rows.append(
            (
                a,
                b,
                f"{conflicts.t_in_s[k]:.3f}",
                f"{conflicts.t_out_s[k]:.3f}",
                f"{conflicts.tcpa_s[k]:.3f}",
                f"{conflicts.dcpa_m[k]:.3f}",
                "1" if conflicts.los[k] else "0",
            )
        )
    rows.sort()
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("a", "b", "t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "los"))
    out.writerows(rows)
