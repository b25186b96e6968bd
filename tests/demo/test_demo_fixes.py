"""The service fixes the founding pack's replay exposed, pinned one by one."""

from __future__ import annotations

import numpy as np
from shapely.geometry import LineString

from keepclear.detect.minima import DomainPair
from keepclear.detect.states import TrackStates
from keepclear.detect.wellclear import minima_policy
from keepclear.detect.zoneprobe import ZoneWatch
from keepclear.domain import AltitudeBand, Zone, ZoneKind
from keepclear.geo.activity_doc import activity_from_document
from keepclear.scenario import resolve_scenario
from keepclear.services.hotline.phrases import load_catalogue
from keepclear.services.runtime.config import RuntimeConfig
from keepclear.settings import Settings

DAY = 1509494400.0  # 2017-11-01T00:00Z


def _one(lon: float, alt_m: float, t: float) -> TrackStates:
    return TrackStates(
        ("u0",),
        np.array([1]),
        np.array([0]),
        *(np.array([v], dtype=np.float64) for v in (t, 35.0, lon, alt_m, 0.0, 0.0, 0.0)),
    )


def _crossings(alt_m: float) -> list[str]:
    river = Zone(
        "river",
        "River",
        ZoneKind.DECONFLICTION_LINE,
        LineString([(40.0, 34.0), (40.0, 36.0)]),
        buffer_m=500.0,
        altitude=AltitudeBand(-1500.0, 5000.0),
    )
    watch = ZoneWatch([river])
    kinds = []
    for k, lon in enumerate((39.99, 40.01)):
        kinds += [e.kind for e in watch.update(DAY + 60 * k, _one(lon, alt_m, DAY + 60 * k), ["coalition", "russia"])]
    return kinds


def test_a_line_is_crossed_inside_its_altitude_band_only() -> None:
    assert _crossings(200.0) == ["zone.line_crossed"]
    assert _crossings(7000.0) == []  # an aircraft at FL230 over the river


def test_alert_levels_follow_the_configured_minima_for_every_pair(tmp_path) -> None:
    minima = {"air_air": {"horizontal_m": 9000.0}, "land_land": {"horizontal_m": 3000.0}}
    settings = Settings(data_dir=tmp_path, minima=minima)
    config = RuntimeConfig.from_settings(settings)
    alerting = config.tactical.alerting
    assert alerting.air_air == minima_policy(config.tactical.probe.air_air)
    assert alerting.policy(DomainPair.LAND_LAND) == minima_policy(config.tactical.probe.land_land)
    assert alerting.policy(DomainPair.LAND_LAND).levels[1].volume.dthr_m == 3000.0


def test_every_pack_activity_body_is_one_the_activities_service_reads() -> None:
    scenario = resolve_scenario("euphrates-2017")
    for activity in scenario.activities:
        parsed = activity_from_document(dict(activity.body), party_id=activity.party_id)
        assert parsed.party_id == activity.party_id


def test_every_pack_phrase_is_a_standard_phrase_with_its_parameters() -> None:
    catalogue = load_catalogue()
    from keepclear.domain.hotline import PhraseUse

    for message in resolve_scenario("euphrates-2017").messages:
        if message.phrase is not None:
            use = PhraseUse(message.phrase, {k: str(v) for k, v in message.params.items()})
            assert catalogue.use_problems(use) == [], message.ref
