"""``keepclear probe STATES.csv``: the tactical probe on a file of states, conflicts as CSV."""

from __future__ import annotations

import csv
import io
import sys
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from keepclear.detect.conflicts import Conflicts
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
    sys.stdout.write(conflicts_csv(conflicts))


def conflicts_csv(conflicts: Conflicts) -> str:
    """The conflicts as CSV text: a header, then one row per pair sorted by the two unit ids (the
    smaller first), times and distances to the millimetre / millisecond."""
    ids = conflicts.unit_ids
    by_id = sorted(range(len(ids)), key=ids.__getitem__)
    rank = np.empty(len(ids), dtype=np.int64)
    rank[by_id] = np.arange(len(ids))
    first = np.minimum(rank[conflicts.row_a], rank[conflicts.row_b])
    second = np.maximum(rank[conflicts.row_a], rank[conflicts.row_b])
    order = np.lexsort((second, first))
    cells = _csv_cells([ids[k] for k in by_id])
    rows = zip(
        first[order].tolist(),
        second[order].tolist(),
        conflicts.t_in_s[order].tolist(),
        conflicts.t_out_s[order].tolist(),
        conflicts.tcpa_s[order].tolist(),
        conflicts.dcpa_m[order].tolist(),
        conflicts.los[order].tolist(),
        strict=True,
    )
    return "a,b,t_in_s,t_out_s,tcpa_s,dcpa_m,los\n" + "".join(
        f"{cells[a]},{cells[b]},{t_in:.3f},{t_out:.3f},{tcpa:.3f},{dcpa:.3f},{1 if los else 0}\n"
        for a, b, t_in, t_out, tcpa, dcpa, los in rows
    )


def _csv_cells(texts: list[str]) -> list[str]:
    """Each text as one CSV field, quoted as the csv module quotes it (commas, quotes, line breaks)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    cells = []
    for text in texts:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow((text,))
        cells.append(buffer.getvalue()[:-1])
    return cells
