"""Auto-created units (off by default): an unmapped id of a party's feed becomes a unit of its force,
then its positions are the party's reports; without auto_create the id stays refused."""

from __future__ import annotations

import socket
import time

import pytest
from apisupport import Service
from interopsupport import tracks, wait_for

from keepclear.errors import ValidationError
from keepclear.interop.autocreate import UnitCreator, unit_id_for
from keepclear.interop.cot import event_xml
from keepclear.interop.gateway import Endpoint, Gateway
from keepclear.interop.inputs import decoders
from keepclear.interop.mapping import IdKind, parse_mapping
from keepclear.interop.observation import Stats
from keepclear.interop.poster import Poster


def test_unit_ids_are_safe_and_the_option_is_checked() -> None:
    assert unit_id_for(IdKind.COT, "ANDROID-589520ccfcd2") == "cot-android-589520ccfcd2"
    assert unit_id_for(IdKind.COT, "S-1 #2/x") == "cot-s-1-2-x"
    assert unit_id_for(IdKind.ICAO, "3C6444") == "icao-3c6444"
    assert parse_mapping("party: a\ncot:\n  X: ua\n").auto_create_force is None  # off by default
    assert parse_mapping("party: a\nauto_create: {force: fa}\n").auto_create_force == "fa"
    with pytest.raises(ValidationError, match=r"auto_create\.force"):
        parse_mapping("party: a\nauto_create: {force: 'Not An Id'}\n")


def test_an_unmapped_tak_user_becomes_a_unit_of_the_partys_force(service: Service) -> None:
    stats = Stats()
    mapping = parse_mapping("party: a\ncot:\n  ANDROID-A1: ua\nauto_create: {force: fa}\n")
    creator = UnitCreator(service.url, service.keys["admin"], mapping, "fa", stats)
    poster = Poster(service.url, service.keys["a-feed"], stats, flush_s=0.05)
    gateway = Gateway(mapping, decoders(), [Endpoint("cot", "udp", "127.0.0.1", 0)], poster.offer, stats,
                      on_unmapped=creator.on_unmapped)  # fmt: skip
    poster.start()
    gateway.start()
    try:

        def sent_and_seen() -> dict[str, object] | None:
            now_s = time.time()
            for uid, cot_type, lat_deg in (("ANDROID-NEW9", "a-f-G", 36.2), ("JET-7", "a-f-A-M-F", 36.4)):
                event = event_xml(uid=uid, cot_type=cot_type, time_s=now_s, stale_s=now_s + 60,
                                  lat_deg=lat_deg, lon_deg=2.2)  # fmt: skip
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                    udp.sendto(event, ("127.0.0.1", gateway.ports[0]))
            seen = tracks(service, "a-liaison")
            return seen.get("cot-android-new9") if "cot-jet-7" in seen else None

        seen = wait_for(sent_and_seen, what="the auto-created unit's track")
        creator.join()
    finally:
        gateway.stop()
        poster.stop()
    assert seen["lat_deg"] == 36.2
    with service.client("admin") as admin:
        unit = admin.get("/v1/units").json()
    [created] = [u for u in unit if u["id"] == "cot-android-new9"]
    assert (created["callsign"], created["force_id"], created["party_id"]) == ("ANDROID-NEW9", "fa", "a")
    assert stats.snapshot()["units_created"] == 2 and "cot-android-new9" not in tracks(service, "b-liaison")
    # The domain is the CoT type's battle dimension: the minima that apply depend on it.
    domains = {u["id"]: u["domain"] for u in unit}
    assert (domains["cot-android-new9"], domains["cot-jet-7"]) == ("land", "air")
