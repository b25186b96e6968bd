"""``keepclear probe STATES.csv``."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from tactical_refs import reference_dir

from keepclear.cli.main import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["probe", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_probe_prints_one_row_per_unordered_pair_of_the_reference(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, str(reference_dir("bluesky-n1000") / "states.csv"))
    assert code == 0
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["a", "b", "t_in_s", "t_out_s", "tcpa_s", "dcpa_m", "los"]
    pairs = [(r[0], r[1]) for r in rows[1:]]
    assert len(pairs) == len(set(pairs)) == 302
    assert all(a < b for a, b in pairs)
    assert sum(r[6] == "1" for r in rows[1:]) == 51


def test_probe_uses_party_and_domain_columns_and_the_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.csv"
    f.write_text(
        "id,lat_deg,lon_deg,alt_m,gs_mps,trk_deg,vs_mps,party,domain\n"
        "z1,35.0,36.0,3000,0,0,0,ru,air\n"
        "y1,35.0,36.05,3000,0,0,0,us,air\n"
        "x1,35.0,36.0,3000,0,0,0,ru,air\n"
        "tank,35.0,36.001,0,0,0,0,us,land\n"
    )
    code, out, _ = run(capsys, str(f))
    rows = list(csv.reader(io.StringIO(out)))[1:]
    # 4.6 km apart: inside 5 NM; z1 and x1 are one party; the tank is 3000 m below (< 3000 ft? no).
    assert code == 0
    assert [(r[0], r[1], r[6]) for r in rows] == [("x1", "y1", "1"), ("y1", "z1", "1")]
    code, out, _ = run(capsys, str(f), "--horizontal-m", "1000")
    assert code == 0 and out.strip() == "a,b,t_in_s,t_out_s,tcpa_s,dcpa_m,los"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("a,1,2,3,4,5,6\nb,91,2,3,4,5,6\n", "line 3: lat_deg: 91.0 is outside"),
        ("a,1,2,3,4,5,6\nb,1,2,3,x,5,6\n", "line 3: gs_mps 'x' is not a number"),
        ("a,1,2,3,4,5\n", "line 2: 6 fields, expected 7"),
        ("a,1,2,3,4,5,6\na,1,2,3,4,5,6\n", "line 3: id 'a' already on line 2"),
        ("a,1,2,nan,4,5,6\n", "line 2: alt_m: nan is not a finite number"),
    ],
)
def test_bad_csv_is_refused_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], body: str, message: str
) -> None:
    f = tmp_path / "bad.csv"
    f.write_text("id,lat_deg,lon_deg,alt_m,gs_mps,trk_deg,vs_mps\n" + body)
    code, out, err = run(capsys, str(f))
    assert code == 1 and out == ""
    assert message in err and "Traceback" not in err


def test_missing_columns_and_files_are_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "s.csv"
    f.write_text("id,lat_deg\n")
    code, _, err = run(capsys, str(f))
    assert code == 1 and "line 1: missing column(s) lon_deg" in err
    code, _, err = run(capsys, str(tmp_path / "none.csv"))
    assert code == 1 and "none.csv" in err
