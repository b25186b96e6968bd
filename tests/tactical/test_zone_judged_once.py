"""Code health: a stored zone is judged drawable (``zone_drawing_problem``) once where it is read, not
twice: the tactical service's zone reload judged each zone in ``UndrawableZones.drawable`` and again
in ``prepare_zone``, and ``GET /v1/zones/{id}`` (``ZoneService.feature``) judged a refused zone
again to say why. What they answer is unchanged (``tests/api/test_undrawable_zones.py``)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from shapely.geometry import Point

from keepclear.detect import zoneprobe
from keepclear.domain.zones import Zone, ZoneKind, zone_drawing_problem
from keepclear.errors import NotFoundError
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.services.tactical.service import TacticalService
from keepclear.services.zones import service as zone_service
from keepclear.services.zones import undrawable
from keepclear.settings import Settings


def test_a_reload_and_a_refused_feature_judge_each_zone_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deployment = Deployment.open(Settings(data_dir=tmp_path / "data"), clock=ManualClock(1_764_720_000.0), create=True)
    zones = [
        Zone("site", "site", ZoneKind.PROTECTED_SITE, Point(40.0, 35.0), buffer_m=500.0),
        Zone("huge", "huge", ZoneKind.PROTECTED_SITE, Point(40.0, 35.0), buffer_m=1e300),
    ]
    with deployment.db.write() as conn:
        deployment.zones.store_in(conn, zones, replace=True, party_id=None)
    judged: Counter[str] = Counter()

    def counting(zone: Zone) -> str | None:
        judged[zone.id] += 1
        return zone_drawing_problem(zone)

    for module in (zoneprobe, undrawable, zone_service):
        monkeypatch.setattr(module, "zone_drawing_problem", counting)
    try:
        tactical = TacticalService(
            deployment.db, deployment.clock, deployment.bus, undrawable_zones=deployment.undrawable_zones
        )
        assert [z.zone.id for z in tactical.zone_watch.zones] == ["site"]
        assert judged == {"site": 1, "huge": 1} and deployment.undrawable_zones.problem("huge")
        judged.clear()
        with pytest.raises(NotFoundError, match=r"huge is stored but cannot be drawn \(radius_m: 1e\+300 m"):
            deployment.zones.feature("huge")
        assert judged == {"huge": 1}
    finally:
        deployment.close()
