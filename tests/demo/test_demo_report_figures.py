"""The after-action report reads at a glance: one legend per figure (parties, zones, dots), colours
that never make a deconfliction line look like a party's track or a protected site like a party,
and times as HH:MM:SSZ, never seconds since the epoch."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from matplotlib.colors import to_rgb
from matplotlib.legend import Legend

from keepclear.cli.main import main
from keepclear.services.reports import figures
from keepclear.services.reports.clock import ReportClock
from keepclear.services.reports.figures import PARTY_COLOURS, ZONE_STYLES


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[Any]]:
    """The founding pack replayed; every figure of its report kept (as drawn) besides the files."""
    out = tmp_path_factory.mktemp("report")
    run_dir = tmp_path_factory.mktemp("run") / "deployment"
    kept: list[Any] = []
    real_png = figures.png

    def keep(fig: Any) -> bytes:
        kept.append(fig)
        legends = [a.get_legend() for a in fig.axes if a.get_legend() is not None] + list(fig.legends)
        fig.keepclear_legends = [[t.get_text() for t in legend.get_texts()] for legend in legends]
        return real_png(fig)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(figures, "png", keep)
        code = main(["replay", "euphrates-2017", "--speed", "max", "--report", str(out), "--data-dir", str(run_dir)])
    assert code == 0
    return out, kept


def test_each_figure_has_one_legend_of_parties_zones_and_dots(drawn: tuple[Path, list[Any]]) -> None:
    _, kept = drawn
    assert len(kept) == 5  # the overview, the alerts and the incidents
    for fig in kept:
        assert len(fig.keepclear_legends) == 1, fig.keepclear_legends
        (labels,) = fig.keepclear_legends
        assert any(label.endswith("(track)") for label in labels), labels
        assert all(
            label.endswith("(track)") or label in {s["label"] for s in ZONE_STYLES.values()} or label.startswith("dot:")
            for label in labels
        ), labels  # no unit ids in the legend: units are named on the map
    overview_labels = kept[0].keepclear_legends[0]
    assert {"deconfliction line", "protected site"} <= set(overview_labels), overview_labels
    assert isinstance(kept[0].axes[0].get_legend(), Legend)


def _distance(a: str, b: str) -> float:
    return sum(abs(x - y) for x, y in zip(to_rgb(a), to_rgb(b), strict=True))


def test_no_party_colour_is_a_zones_colour() -> None:
    zone_colours = [c for s in ZONE_STYLES.values() for c in (s["face"], s["edge"]) if c != "none"]
    for party in PARTY_COLOURS:
        for zone in zone_colours:
            assert _distance(party, zone) > 0.45, (party, zone)
    assert ZONE_STYLES["deconfliction-line"]["ls"] == "--"  # tracks are solid lines
    assert ZONE_STYLES["protected-site"]["hatch"]  # a site is hatched, a party never


def test_report_times_are_clock_times_not_epoch_seconds(drawn: tuple[Path, list[Any]]) -> None:
    out, _ = drawn
    html = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "", (out / "report.html").read_text())
    assert not re.search(r"\b1[0-9]{9}(\.[0-9]+)?\b", html), re.search(r".{60}\b1[0-9]{9}\b.{20}", html)
    assert len(re.findall(r"\b[0-2][0-9]:[0-5][0-9]:[0-5][0-9]Z\b", html)) > 10
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", html)  # no ISO timestamps in the tables either


def test_the_report_clock_names_other_days_and_shows_payload_times() -> None:
    clock = ReportClock(1_500_681_600.0)  # 2017-07-22
    assert clock.text(1_500_681_600.0 + 3_723.6) == "01:02:04Z"
    assert clock.text(1_500_681_600.0 - 1.0) == "2017-07-21 23:59:59Z"
    assert clock.payload({"raised_s": 1_500_685_200.0, "delay_s": 35.0, "units": ["u1"]}) == {
        "raised": "01:00:00Z",
        "delay_s": 35.0,
        "units": ["u1"],
    }
