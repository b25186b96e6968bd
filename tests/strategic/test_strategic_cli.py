"""``keepclear activity``: a real process, real files, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from keepclear.cli import activities as activities_cli
from keepclear.cli.main import cli

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "activity-air-operation.yaml"
BATCH_EXAMPLE = EXAMPLE.with_name("activities-tasking-order.yaml")


def example_from_tomorrow(tmp_path: Path) -> Path:
    """The example moved to start two days from now (the CLI runs on the wall clock)."""
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    moved = tmp_path / "activity.yaml"
    moved.write_text(EXAMPLE.read_text().replace("2017-11-03", day))
    return moved


def run(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPCLEAR_")}
    return subprocess.run(
        [sys.executable, "-m", "keepclear.cli.main", "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_notify_from_a_file_show_list_and_acknowledge(tmp_path: Path) -> None:
    data = tmp_path / "deploy"
    assert run("init", data_dir=data).returncode == 0
    assert run("party", "add", "coalition", data_dir=data).returncode == 0
    assert run("party", "add", "russia", "--language", "ru", data_dir=data).returncode == 0
    notified = run("activity", "notify", str(example_from_tomorrow(tmp_path)), "--party", "coalition", data_dir=data)
    assert notified.returncode == 0, notified.stderr
    assert "coalition-strike-0412 version 1 notified; addressees: russia" in notified.stdout
    assert "late notice" not in notified.stdout and "no conflicts" in notified.stdout
    shown = run("activity", "show", "coalition-strike-0412", data_dir=data)
    view = json.loads(shown.stdout)
    assert view["status"] == "notified" and view["not_acknowledged"] == ["russia"]
    acked = run("activity", "ack", "coalition-strike-0412", "--party", "russia", "--version", "1", data_dir=data)
    assert acked.returncode == 0, acked.stderr
    as_russia = json.loads(run("activity", "show", "coalition-strike-0412", "--party", "russia", data_dir=data).stdout)
    assert as_russia["your_acknowledgement"]["state"] == "acknowledged" and "addressees" not in as_russia
    listed = run("activity", "list", data_dir=data).stdout
    assert "coalition-strike-0412\tv1\tnotified\tcoalition\tair-operation" in listed and "answered 1/1" in listed
    stale = run("activity", "ack", "coalition-strike-0412", "--party", "russia", "--version", "7", data_dir=data)
    assert stale.returncode == 1 and "current version is 1" in stale.stderr


def test_bad_file_is_one_line_naming_the_field_and_stores_nothing(tmp_path: Path) -> None:
    data = tmp_path / "deploy"
    run("init", data_dir=data)
    run("party", "add", "coalition", data_dir=data)
    bad = tmp_path / "bad.yaml"
    bad.write_text(example_from_tomorrow(tmp_path).read_text().replace("T14:00:00Z\npriority", "T09:00:00Z\npriority"))
    result = run("activity", "notify", str(bad), "--party", "coalition", data_dir=data)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "time window: ends before it starts" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    result = run("activity", "notify", str(broken), "--party", "coalition", data_dir=data)
    assert "not valid YAML or JSON at line 2" in result.stderr
    assert run("activity", "list", data_dir=data).stdout == ""


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[" * 100_000, "deep.yaml: nested deeper than 32 levels"),
        ('{"kind":' * 100_000, "deep.yaml: nested deeper than 32 levels"),
        ("kind: air-operation\nstart: " + "9" * 5000 + "\n", "deep.yaml: a number has more digits than can be read"),
        ('kind: air-operation\ntext: "a\\0b"\n', "deep.yaml: text: contains a NUL character"),
    ],
)
def test_a_hostile_activity_file_is_one_line_and_stores_nothing(tmp_path: Path, content: str, message: str) -> None:
    """A file nested deeper than the parser's stack, or a number of more than 4,300 digits, was an
    "internal error: RecursionError/ValueError"; a file is now held to a request body's rules."""
    data = tmp_path / "deploy"
    run("init", data_dir=data)
    run("party", "add", "coalition", data_dir=data)
    bad = tmp_path / "deep.yaml"
    bad.write_text(content)
    result = run("activity", "notify", str(bad), "--party", "coalition", data_dir=data)
    assert result.returncode == 1 and "internal error" not in result.stderr, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert run("activity", "list", data_dir=data).stdout == ""


def test_a_states_file_with_a_field_past_the_csv_limit_is_one_line(tmp_path: Path) -> None:
    states = tmp_path / "states.csv"
    states.write_text("id,lat_deg,lon_deg,alt_m,gs_mps,trk_deg,vs_mps\n" + "x" * 200_000 + ",0,0,0,0,0,0\n")
    result = run("probe", str(states), data_dir=tmp_path / "deploy")
    assert result.returncode != 0 and "internal error" not in result.stderr, result.stderr
    assert "states.csv: not a CSV file the probe can read (field larger than field limit" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_file_of_several_activities_is_notified_as_one_batch_all_or_none(tmp_path: Path) -> None:
    data = tmp_path / "deploy"
    run("init", data_dir=data)
    run("party", "add", "coalition", data_dir=data)
    run("party", "add", "russia", data_dir=data)
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    order = tmp_path / "order.yaml"
    order.write_text(BATCH_EXAMPLE.read_text().replace("2017-11-03", day))
    notified = run("activity", "notify", str(order), "--party", "coalition", data_dir=data)
    assert notified.returncode == 0, notified.stderr
    for activity_id in ("coalition-ato-1103-strike", "coalition-ato-1103-tanker", "coalition-ato-1103-isr"):
        assert f"{activity_id} version 1 notified; addressees: russia" in notified.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(order.read_text().replace("ato-1103", "ato-1104").replace("radius_m: 15000", "radius_m: -1"))
    refused = run("activity", "notify", str(bad), "--party", "coalition", data_dir=data)
    assert refused.returncode == 1 and "activities[2].volumes[0].circle.radius_m" in refused.stderr, refused.stderr
    assert "ato-1104" not in run("activity", "list", data_dir=data).stdout
    draft = run("activity", "notify", str(order), "--party", "coalition", "--draft", data_dir=data)
    assert draft.returncode == 1 and "--draft stores one activity" in draft.stderr


def test_list_reads_in_pages_and_shows_each_activity_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``activity list`` reads a page of activities at a time (a fixed number of statements each, not
    one read per activity): with pages of two, the three notified and the draft are each listed once,
    and a party is shown only what it may see (not another party's draft)."""
    data = tmp_path / "deploy"
    for args in (("init",), ("party", "add", "coalition"), ("party", "add", "russia")):
        assert run(*args, data_dir=data).returncode == 0
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    order = tmp_path / "order.yaml"
    order.write_text(BATCH_EXAMPLE.read_text().replace("2017-11-03", day))
    assert run("activity", "notify", str(order), "--party", "coalition", data_dir=data).returncode == 0
    draft = tmp_path / "draft.yaml"
    draft.write_text(example_from_tomorrow(tmp_path).read_text().replace("coalition-strike-0412", "coalition-draft-9"))
    assert run("activity", "notify", str(draft), "--party", "coalition", "--draft", data_dir=data).returncode == 0
    monkeypatch.setattr(activities_cli, "LIST_PAGE_ITEMS", 2)
    runner = CliRunner()

    def listed(*party: str) -> list[str]:
        result = runner.invoke(cli, ["--data-dir", str(data), "activity", "list", *party], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return [line.split("\t")[0] for line in result.output.splitlines()]

    everything = [
        "coalition-ato-1103-isr",
        "coalition-ato-1103-strike",
        "coalition-ato-1103-tanker",
        "coalition-draft-9",
    ]
    assert listed() == everything
    assert listed("--party", "coalition") == everything
    assert listed("--party", "russia") == everything[:3]


def _orders_notified(tmp_path: Path, orders: list[tuple[str, str]]) -> Path:
    """A deployment of coalition and russia in which each (party, prefix) of ``orders`` notified the
    example order (its ids prefixed ``<prefix>-ato``, two days from now); its data folder."""
    data = tmp_path / "deploy"
    for args in (("init",), ("party", "add", "coalition"), ("party", "add", "russia")):
        assert run(*args, data_dir=data).returncode == 0
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    order = BATCH_EXAMPLE.read_text().replace("2017-11-03", day)
    for party, prefix in orders:
        copy = tmp_path / f"{prefix}.yaml"
        copy.write_text(order.replace("coalition-ato", f"{prefix}-ato"))
        assert run("activity", "notify", str(copy), "--party", party, data_dir=data).returncode == 0
    return data


def test_list_and_show_count_every_overlap_though_a_view_holds_the_first_few(tmp_path: Path) -> None:
    """With ``activity_view_max_overlaps`` 1, a coalition activity two russian ones overlap shows one
    in its ``overlapped_by`` and counts two (``overlapped_by_total``); ``list`` says ``overlapped 2``."""
    data = _orders_notified(tmp_path, [("coalition", "coalition"), ("russia", "russia-1"), ("russia", "russia-2")])
    runner = CliRunner(env={"KEEPCLEAR_ACTIVITY_VIEW_MAX_OVERLAPS": "1"})
    base = ["--data-dir", str(data), "activity"]
    shown = runner.invoke(cli, [*base, "show", "coalition-ato-1103-strike", "--party", "coalition"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    assert (len(view["overlapped_by"]), view["overlapped_by_total"]) == (1, 2)
    listed = runner.invoke(cli, [*base, "list", "--party", "coalition"]).output.splitlines()
    strike = next(line for line in listed if line.startswith("coalition-ato-1103-strike\t"))
    assert strike.endswith("\toverlapped 2"), strike
    as_russia = runner.invoke(cli, [*base, "list", "--party", "russia"]).output.splitlines()
    assert not [line for line in as_russia if line.startswith("coalition-") and "conflicts" in line], as_russia


def test_list_and_show_count_every_conflict_a_check_found_though_a_view_holds_the_first_few(tmp_path: Path) -> None:
    """With ``activity_view_max_conflicts`` and ``activity_page_max_conflicts`` 1, a russian activity
    whose check found several conflicts shows one in its ``conflicts`` and counts them all
    (``conflicts_total``); ``list`` says ``conflicts N`` with that total."""
    data = _orders_notified(
        tmp_path, [("coalition", "coalition-1"), ("coalition", "coalition-2"), ("russia", "russia")]
    )
    env = {"KEEPCLEAR_ACTIVITY_VIEW_MAX_CONFLICTS": "1", "KEEPCLEAR_ACTIVITY_PAGE_MAX_CONFLICTS": "1"}
    runner = CliRunner(env=env)
    base = ["--data-dir", str(data), "activity"]
    shown = runner.invoke(cli, [*base, "show", "russia-ato-1103-strike", "--party", "russia"])
    assert shown.exit_code == 0, shown.output
    view = json.loads(shown.output)
    total = view["conflicts_total"]
    assert len(view["conflicts"]) == 1 and total >= 2, view["conflicts"]
    listed = runner.invoke(cli, [*base, "list", "--party", "russia"]).output.splitlines()
    strike = next(line for line in listed if line.startswith("russia-ato-1103-strike\t"))
    assert f"\tconflicts {total}" in strike, strike


def test_notify_prints_the_first_conflicts_and_conflicts_lists_every_one(tmp_path: Path) -> None:
    """With ``activity_event_max_conflicts`` 1, ``notify`` prints one conflict of each activity and how
    many more, naming the command that lists them; ``activity conflicts`` lists every one, in pages."""
    data = _orders_notified(tmp_path, [("coalition", "coalition-1"), ("coalition", "coalition-2")])
    day = (datetime.now(UTC) + timedelta(days=2)).strftime("%Y-%m-%d")
    order = tmp_path / "russia.yaml"
    order.write_text(BATCH_EXAMPLE.read_text().replace("2017-11-03", day).replace("coalition-ato", "russia-ato"))
    runner = CliRunner(env={"KEEPCLEAR_ACTIVITY_EVENT_MAX_CONFLICTS": "1"})
    base = ["--data-dir", str(data), "activity"]
    notified = runner.invoke(cli, [*base, "notify", str(order), "--party", "russia"], catch_exceptions=False)
    assert notified.exit_code == 0, notified.output
    lines = notified.output.splitlines()
    strike = lines.index(next(line for line in lines if line.startswith("russia-ato-1103-strike ")))
    more = next(line for line in lines[strike:] if line.startswith("… and "))
    total = int(more.split("(")[1].split(" ")[0])
    assert total >= 2 and more.endswith(": keepclear activity conflicts russia-ato-1103-strike --party russia"), more
    printed = [line for line in lines[strike : lines.index(more)] if line.startswith("conflict ")]
    assert len(printed) == 1
    listed = runner.invoke(
        cli, [*base, "conflicts", "russia-ato-1103-strike", "--party", "russia"], catch_exceptions=False
    ).output.splitlines()
    assert len(listed) == total and listed[0] == printed[0] and len(set(listed)) == total
    refused = run("activity", "conflicts", "russia-ato-1103-strike", "--party", "coalition", data_dir=data)
    assert refused.returncode == 1 and "unknown activity 'russia-ato-1103-strike'" in refused.stderr


def test_a_file_whose_text_holds_nul_or_a_lone_surrogate_is_refused_naming_the_field(tmp_path: Path) -> None:
    """YAML writes NUL as "\\0" and a lone surrogate as "\\ud800": the API's JSON reader refuses both,
    a file never met it. NUL was stored (SQLite keeps it; an API client never could), a lone
    surrogate ended in "internal error: UnicodeEncodeError". Both are now one line naming the field."""
    data = tmp_path / "deploy"
    run("init", data_dir=data)
    run("party", "add", "coalition", data_dir=data)
    run("party", "add", "russia", data_dir=data)
    good = example_from_tomorrow(tmp_path).read_text()
    for field, value, problem in (
        ("text", r'"west \0 of the river"', "text: contains a NUL character (U+0000)"),
        ("contact", r'"CAOC \ud800 duty"', "contact: contains a lone surrogate (U+D800) at character 5"),
    ):
        bad = tmp_path / f"{field}.yaml"
        bad.write_text(
            "\n".join(f"{field}: {value}" if line.startswith(f"{field}:") else line for line in good.splitlines())
        )
        result = run("activity", "notify", str(bad), "--party", "coalition", data_dir=data)
        assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
        assert problem in result.stderr and "internal error" not in result.stderr, result.stderr
    assert run("activity", "list", data_dir=data).stdout == ""
