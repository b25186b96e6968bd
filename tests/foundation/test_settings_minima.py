"""The separation minima: one nested setting per pair of domains, one mapping into the probe's minima."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest

from keepclear.detect.minima import ProbeSettings, SeparationMinima
from keepclear.detect.probe import probe
from keepclear.detect.states import TrackStates
from keepclear.domain.minima import DEFAULT_MINIMA, DomainPair
from keepclear.errors import KeepclearError
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.settings import Settings, load_settings


def _shifted(pair_number: int, row: SeparationMinima) -> dict[str, float]:
    """A row unlike every default and unlike every other pair's."""
    return {
        "horizontal_m": row.horizontal_m + 10.0 * (pair_number + 1),
        "vertical_m": 100.0 + pair_number,
        "lookahead_s": 60.0 + pair_number,
    }


def test_probe_fields_are_the_domain_pairs_in_order() -> None:
    assert [f.name for f in dataclasses.fields(ProbeSettings)] == [pair.value for pair in DomainPair]


def test_default_settings_give_the_default_probe_minima() -> None:
    probe_minima = RuntimeConfig.from_settings(Settings()).tactical.probe
    assert probe_minima == ProbeSettings()
    assert probe_minima.rows() == dict(DEFAULT_MINIMA)


def test_the_probe_minima_equal_the_settings_for_every_pair() -> None:
    given = {pair.value: _shifted(n, DEFAULT_MINIMA[pair]) for n, pair in enumerate(DomainPair)}
    config = RuntimeConfig.from_settings(Settings(minima=given))
    for pair in DomainPair:
        expected = SeparationMinima(**given[pair.value])
        assert config.tactical.probe.row(pair) == expected, pair
        assert config.tactical.alerting.surface.row(pair) == expected, pair
        a, b = pair.domains
        assert config.tactical.probe.minima_for(b, a) == expected, pair


def test_a_key_left_out_keeps_its_pairs_default() -> None:
    settings = Settings(minima={"land_sea": {"lookahead_s": 42.0}})
    rows = settings.separation_minima()
    assert rows[DomainPair.LAND_SEA] == dataclasses.replace(DEFAULT_MINIMA[DomainPair.LAND_SEA], lookahead_s=42.0)
    assert {pair: rows[pair] for pair in DomainPair if pair != DomainPair.LAND_SEA} == {
        pair: row for pair, row in DEFAULT_MINIMA.items() if pair != DomainPair.LAND_SEA
    }


def _two_vessels_apart_m(distance_m: float) -> TrackStates:
    """Two stationary vessels of two parties, ``distance_m`` apart east–west on the equator."""
    half_deg = distance_m / 2 / 111_319.49
    return TrackStates(
        ("ship-a", "ship-b"),
        np.array([0, 1]),
        np.array([2, 2]),
        np.zeros(2),
        np.zeros(2),
        np.array([-half_deg, half_deg]),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
        np.zeros(2),
    )


def test_a_settings_file_with_nested_minima_changes_what_the_probe_finds(tmp_path: Path) -> None:
    states = _two_vessels_apart_m(3000.0)  # beyond the default sea–sea 1 NM
    default = RuntimeConfig.from_settings(load_settings(None)).tactical.probe
    assert len(probe(states, 0.0, default)) == 0
    config = tmp_path / "keepclear.toml"
    config.write_text("[minima.sea_sea]\nhorizontal_m = 5000.0\n")
    wider = RuntimeConfig.from_settings(load_settings(config)).tactical.probe
    assert wider.sea_sea.horizontal_m == 5000.0
    found = probe(states, 0.0, wider)
    assert len(found) == 1 and bool(found.los[0])


def test_file_environment_and_arguments_merge_key_by_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "keepclear.toml"
    config.write_text(
        "[minima.air_air]\nhorizontal_m = 9000.0\nlookahead_s = 200.0\n\n[minima.sea_sea]\nvertical_m = 50.0\n"
    )
    monkeypatch.setenv("KEEPCLEAR_MINIMA__AIR_AIR__LOOKAHEAD_S", "250")
    monkeypatch.setenv("KEEPCLEAR_MINIMA__LAND_LAND__VERTICAL_M", "inf")
    settings = load_settings(config, minima={"sea_sea": {"lookahead_s": 600.0}})
    rows = settings.separation_minima()
    assert rows[DomainPair.AIR_AIR] == SeparationMinima(9000.0, DEFAULT_MINIMA[DomainPair.AIR_AIR].vertical_m, 250.0)
    assert rows[DomainPair.SEA_SEA] == SeparationMinima(DEFAULT_MINIMA[DomainPair.SEA_SEA].horizontal_m, 50.0, 600.0)
    assert math.isinf(rows[DomainPair.LAND_LAND].vertical_m)


def test_an_unknown_pair_or_key_is_refused_by_name(tmp_path: Path) -> None:
    config = tmp_path / "keepclear.toml"
    config.write_text("[minima.air_space]\nhorizontal_m = 1.0\n")
    with pytest.raises(KeepclearError, match=r"minima: .*no pair of domains air_space: the pairs are air_air, "):
        load_settings(config)
    config.write_text("[minima.air_air]\nhorizontal_ft = 1.0\n")
    with pytest.raises(KeepclearError, match=r"minima\.air_air\.horizontal_ft"):
        load_settings(config)


def test_a_minimum_out_of_range_is_refused_by_name(tmp_path: Path) -> None:
    config = tmp_path / "keepclear.toml"
    config.write_text("[minima.land_sea]\nlookahead_s = 9000.0\n")
    with pytest.raises(KeepclearError, match=r"minima\.land_sea\.lookahead_s"):
        load_settings(config)


def test_the_flat_names_of_earlier_versions_are_refused_with_their_new_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "keepclear.toml"
    config.write_text("sep_air_air_horizontal_m = 9000.0\n")
    with pytest.raises(KeepclearError, match=r"sep_air_air_horizontal_m is now minima\.air_air\.horizontal_m"):
        load_settings(config)
    monkeypatch.setenv("KEEPCLEAR_SEP_SEA_SEA_LOOKAHEAD_S", "60")
    with pytest.raises(KeepclearError, match="KEEPCLEAR_MINIMA__SEA_SEA__LOOKAHEAD_S"):
        load_settings(None)
