"""The numpy probe gives the compiled probe's conflicts: same pairs, same values, on the oracle's
random scenes, the hard cases and the BlueSky reference box; and ``keepclear probe`` on a small
file loads no numba."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from tactical_refs import reference_dir
from test_tactical_probe import make_states, scenes

from keepclear.detect.conflicts import Conflicts
from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.numpyprobe import probe_numpy
from keepclear.detect.probe import probe
from keepclear.detect.statecsv import parse_states_csv
from keepclear.detect.states import TrackStates

COLUMNS = ("t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "vsep_cpa_m", "horizontal_m", "vertical_m", "lookahead_s")


def assert_same(states: TrackStates, time_s: float, cfg: ProbeSettings) -> Conflicts:
    compiled, numpy_ = probe(states, time_s, cfg), probe_numpy(states, time_s, cfg)
    order_c = np.lexsort((compiled.row_b, compiled.row_a))
    order_n = np.lexsort((numpy_.row_b, numpy_.row_a))
    assert numpy_.row_a[order_n].tolist() == compiled.row_a[order_c].tolist()
    assert numpy_.row_b[order_n].tolist() == compiled.row_b[order_c].tolist()
    for name in COLUMNS:
        np.testing.assert_allclose(
            getattr(numpy_, name)[order_n], getattr(compiled, name)[order_c], rtol=1e-9, atol=1e-6, err_msg=name
        )
    assert numpy_.los[order_n].tolist() == compiled.los[order_c].tolist()
    return numpy_


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenes())
def test_numpy_probe_equals_the_compiled_probe_on_random_scenes(scene: tuple[TrackStates, ProbeSettings]) -> None:
    states, cfg = scene
    assert_same(states, 0.0, cfg)
    assert_same(states, 40.0, cfg)  # reports extrapolated to the probe time


def test_numpy_probe_on_the_hard_cases() -> None:
    rows = [
        (0, 0, 0, 52.0, 5.0, 9000, 200, 50, 0),  # identical velocities, already in loss
        (1, 0, 0, 52.02, 5.0, 9000, 200, 50, 0),
        (0, 1, 0, 35.0, 36.0, 0, 0, 0, 0),  # still land units at one point
        (1, 1, 0, 35.0, 36.0, 0, 0, 0, 0),
        (2, 2, 0, 35.0, 36.001, 0, 0, 5, 0),  # a vessel beside them
        (0, 0, 0, 0.0, 179.99, 10_000, -200, 0, 0),  # head-on across the antimeridian
        (1, 0, 0, 0.0, -179.99, 10_000, 200, 0, 0),
        (0, 0, 0, 90.0, 0.0, 8_000, 0, 0, 0),  # at the pole, one crossing it
        (1, 0, 0, 89.99, 90.0, 8_000, 0, -150, 0),
        (0, 0, 0, 10.0, 10.0, 3_000, 0, 0, 0.5),  # a slow vertical closure over a long lookahead
        (1, 0, 0, 10.0, 10.0, 3_600, 0, 0, -0.5),
        (2, 0, 0, 10.0, 10.0, 3_000, 0, 0, 0.5),  # same party as none of them: conflicts with both
    ]
    long = ProbeSettings(air_air=SeparationMinima(9_260.0, 304.8, 1_000.0))
    found = assert_same(make_states(rows), 0.0, long)
    assert len(found) >= 8
    assert len(assert_same(make_states(rows), 0.0, ProbeSettings())) >= 6


def test_numpy_probe_on_the_bluesky_reference_box() -> None:
    states = parse_states_csv((reference_dir("bluesky-n1000") / "states.csv").read_text())
    assert len(assert_same(states, 0.0, ProbeSettings())) == 302


def test_keepclear_probe_on_a_small_file_loads_no_numba(tmp_path: Path) -> None:
    states = reference_dir("bluesky-n1000") / "states.csv"
    code = (
        "import sys\n"
        "from keepclear.cli.main import main\n"
        f"code = main(['probe', {str(states)!r}])\n"
        "assert code == 0, code\n"
        "assert 'numba' not in sys.modules, 'numba was imported'\n"
        "assert 'pydantic' not in sys.modules, 'the settings were loaded'\n"
    )
    numpy_run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert numpy_run.returncode == 0, numpy_run.stderr
    compiled = subprocess.run(
        [sys.executable, "-m", "keepclear.cli.main", "probe", "--engine", "compiled", str(states)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert compiled.returncode == 0, compiled.stderr
    assert numpy_run.stdout == compiled.stdout
    assert numpy_run.stdout.count("\n") == 303


def test_a_well_formed_file_reads_the_same_by_columns_as_line_by_line() -> None:
    from keepclear.detect.statecsv import _parse_columns, _parse_lines

    text = (
        "id,lat_deg,lon_deg,alt_m,gs_mps,trk_deg,vs_mps,party,domain\n"
        "a, 35.0,36.0,3000,120,10,0,ru,air\n"
        "\n"
        "b,35.1,36.1,0,5,200,0,us,Land\n"
        "c,35.2,36.2,0,0,0,0,us,sea\n"
    )
    by_columns, by_lines = _parse_columns(text), _parse_lines(text, "s.csv")
    assert by_columns is not None
    for name in TrackStates.__slots__:
        assert np.array_equal(np.asarray(getattr(by_columns, name)), np.asarray(getattr(by_lines, name))), name
    # Any doubt goes to the line-by-line reader, which names the line.
    assert _parse_columns(text.replace("Land", "lnd")) is None
    assert _parse_columns(text.replace("3000", "1e9")) is None
    assert _parse_columns(text.replace(",us,sea", ",,sea")) is None
