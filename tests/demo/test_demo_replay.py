"""``keepclear replay`` of the founding pack: every expectation occurs, nothing else does, the report is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keepclear.cli.main import main
from keepclear.scenario import ExpectationKind, resolve_scenario


@pytest.fixture(scope="module")
def replayed(tmp_path_factory: pytest.TempPathFactory) -> tuple[int, Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("report")
    run_dir = tmp_path_factory.mktemp("run") / "deployment"
    code = main(["replay", "euphrates-2017", "--speed", "max", "--report", str(out), "--data-dir", str(run_dir)])
    return code, out, json.loads((out / "report.json").read_text())


def test_replay_succeeds_and_every_expectation_of_the_pack_occurs(replayed: tuple[int, Path, dict[str, Any]]) -> None:
    code, _, numbers = replayed
    assert code == 0
    expected = resolve_scenario("euphrates-2017").expectations
    results = numbers["check"]["expectations"]
    assert [r["kind"] for r in results] == [e.kind.value for e in expected]
    assert {e.kind for e in expected} == set(ExpectationKind)  # the pack exercises every kind
    assert all(r["met"] and r["events"] > 0 for r in results), results


def test_nothing_unexpected_happens(replayed: tuple[int, Path, dict[str, Any]]) -> None:
    _, _, numbers = replayed
    assert numbers["check"]["unexpected"] == []
    # The two encounters, in order: west of Palmyra at 06:40Z, over Mayadin at 07:30Z.
    assert [tuple(sorted(a["units"])) for a in numbers["alerts"]] == [
        ("grach-05", "reaper-52"),
        ("berkut-12", "viper-21"),
    ]
    assert set(numbers["line_crossings"]) == {"russia"}
    crossers = {t["summary"].split()[0] for t in numbers["timeline"] if t["kind"] == "zone.line_crossed"}
    assert crossers == {"saa-crossing"}
    assert [i["unit_ids"] for i in numbers["incidents"]] == [["grach-05", "reaper-52"], ["berkut-12", "viper-21"]]
    assert numbers["scenario"]["reports_refused"] == 0


def test_each_alert_warned_before_separation_was_lost(replayed: tuple[int, Path, dict[str, Any]]) -> None:
    alerts = replayed[2]["alerts"]
    assert len(alerts) == 2
    for alert in alerts:
        assert alert["max_level"] == "warning"
        assert alert["loss_basis"] == "truth"
        assert abs(alert["truth_loss_s"] - alert["separation_lost_s"]) < 60.0  # truth vs. what noisy tracks showed
        assert 60.0 < alert["warning_s"] < 600.0  # the probe's 300 s lookahead, give or take the geometry
        assert alert["resolved_s"] > alert["separation_lost_s"]


def test_ack_delays_and_escalations_are_counted_per_party(replayed: tuple[int, Path, dict[str, Any]]) -> None:
    numbers = replayed[2]
    delays = numbers["ack_delays"]
    # a1 (420 s) and a3 (600 s) by russia; a2 (240 s) and a3 (840 s) by the coalition; a4 never.
    assert sorted(delays["activities"]["russia"]["delays_s"]) == [420.0, 600.0]
    assert sorted(delays["activities"]["coalition"]["delays_s"]) == [240.0, 840.0]
    assert {"activity": "a4", "party": "russia", "state": "pending"} in delays["never"]
    assert delays["hotline"]["russia"]["count"] >= 5 and delays["hotline"]["coalition"]["count"] >= 3
    a4 = numbers["activities"]["a4"]
    assert {e["activity_id"] for e in numbers["escalations"]} == {a4}
    assert [e["level"] for e in numbers["escalations"]] == [1, 2]
    # one crossing, though the track wobbles across the river three times within a hundred metres
    assert numbers["line_crossings"]["russia"]["2017-11-08"] == 1


def test_report_html_embeds_the_figures_and_json_has_the_numbers(replayed: tuple[int, Path, dict[str, Any]]) -> None:
    _, out, numbers = replayed
    html = (out / "report.html").read_text()
    figures = numbers["figures"]
    assert len(figures) == 1 + len(numbers["alerts"]) + len(numbers["incidents"]) == 5
    assert html.count("data:image/png;base64,") == len(figures)
    assert "http://" not in html and "https://" not in html  # nothing fetched from the network
    for name in figures:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    kinds = {t["kind"] for t in numbers["timeline"]}
    assert {
        "activity.notified",
        "activity.acknowledged",
        "activity.escalated",
        "alert.raised",
        "zone.line_crossed",
    } <= kinds


def test_replay_refuses_a_bad_speed_and_a_used_data_dir(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "euphrates-2017", "--speed", "5000", "--report", str(tmp_path / "r")]) == 1
    assert "--speed" in capsys.readouterr().err
    used = tmp_path / "used"
    used.mkdir()
    (used / "keepclear.db").write_text("")
    assert main(["replay", "euphrates-2017", "--report", str(tmp_path / "r"), "--data-dir", str(used)]) == 1
    assert "not empty" in capsys.readouterr().err
