"""``keepclear probe STATES.csv``: the tactical probe on a file of states, conflicts as CSV."""

from __future__ import annotations

import csv
import sys
from dataclasses import replace
from pathlib import Path

import click

from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.statecsv import StatesCsvError, parse_states_csv
from keepclear.errors import KeepclearError, ValidationError

_DEFAULT = ProbeSettings().air_air
#: Up to this many units ``--engine auto`` probes in numpy alone: loading numba and the compiled
#: kernels costs about a CPU-second, more than the whole numpy probe below this size.
NUMPY_MAX_UNITS = 20_000


@click.command("probe")
@click.argument("states_file", metavar="STATES.csv", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--horizontal-m", type=float, default=_DEFAULT.horizontal_m, show_default=True, help="Horizontal minimum (m)."
)
@click.option("--vertical-m", type=float, default=_DEFAULT.vertical_m, show_default=True, help="Vertical minimum (m).")
@click.option("--lookahead-s", type=float, default=_DEFAULT.lookahead_s, show_default=True, help="Lookahead (s).")
@click.option(
    "--engine",
    type=click.Choice(["auto", "numpy", "compiled"]),
    default="auto",
    show_default=True,
    help=f"numpy (starts at once), compiled (numba: fastest on large pictures), or auto: numpy up to "
    f"{NUMPY_MAX_UNITS:,} units. Same conflicts either way.",
)
def probe(states_file: Path, horizontal_m: float, vertical_m: float, lookahead_s: float, engine: str) -> None:
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
    settings = replace(ProbeSettings(), air_air=minima)
    if engine == "numpy" or (engine == "auto" and len(states) <= NUMPY_MAX_UNITS):
        from keepclear.detect.numpyprobe import probe_numpy

        conflicts = probe_numpy(states, 0.0, settings)
    else:
        from keepclear.detect.probe import probe as compiled_probe

        conflicts = compiled_probe(states, 0.0, settings)
    ids = conflicts.unit_ids
    columns = zip(
        conflicts.row_a.tolist(),
        conflicts.row_b.tolist(),
        conflicts.t_in_s.tolist(),
        conflicts.t_out_s.tolist(),
        conflicts.tcpa_s.tolist(),
        conflicts.dcpa_m.tolist(),
        conflicts.los.tolist(),
        strict=True,
    )
    rows = [
        (*sorted((ids[ra], ids[rb])), f"{t_in:.3f}", f"{t_out:.3f}", f"{tcpa:.3f}", f"{dcpa:.3f}", "1" if los else "0")
        for ra, rb, t_in, t_out, tcpa, dcpa, los in columns
    ]
    rows.sort()
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(("a", "b", "t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "los"))
    out.writerows(rows)
