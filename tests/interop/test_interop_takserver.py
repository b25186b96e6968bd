"""Through a real TAK server (OpenTAKServer, on this machine's PostgreSQL and RabbitMQ): ``keepclear
interop run`` connects to it as a client, with a picture key; party A's TAK client (pytak) connects to
the same server. A's positions reach keepclear through the server; with B's HTTP feed they raise an
alert, which reaches A's TAK client through the server as a CoT alert; A's client never receives B's
unit outside the alert."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
import uuid
from collections.abc import Callable
from configparser import ConfigParser
from pathlib import Path
from types import ModuleType

import pytest
from apisupport import Service
from interopsupport import tracks
from otssupport import missing, opentakserver
from test_interop_both_ways import SPEED_MPS, Picture, b_reports

from keepclear.domain.timefmt import format_utc
from keepclear.interop.cot import event_xml
from keepclear.interop.cot_out import ALERT_TYPE
from serving import KEEPCLEAR, ServedProcess, log_says


@pytest.fixture(autouse=True)
def _a_tak_server_is_installed() -> None:
    """Outside CI a missing OpenTAKServer (scripts/install-ots.sh) skips with the reason; on CI it fails."""
    reason = missing()
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the TAK server test: {reason}")
        pytest.skip(reason)


def sa(uid: str, lon_deg: float, east_mps: float) -> bytes:
    """A's situational awareness as ATAK sends it: its position, callsign and device."""
    now_s = time.time()
    return event_xml(
        uid=uid, cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=35.0, lon_deg=lon_deg, hae_m=7000.0,
        course_deg=90.0 if east_mps > 0 else 270.0, speed_mps=abs(east_mps), callsign=f"ALPHA-{uid[-6:]}",
        extra={"takv": {"platform": "ATAK-CIV", "device": "pytak", "os": "34", "version": "5.2"}},
    )  # fmt: skip


def test_a_tak_client_and_keepclear_exchange_positions_and_alerts_through_opentakserver(
    service: Service, pytak: ModuleType, tmp_path: Path
) -> None:
    uid = f"ANDROID-{uuid.uuid4().hex[:12]}"  # RabbitMQ keeps queues by uid and callsign: fresh ones per run
    b_reports(service, 41.0, 0.0)  # far apart
    with service.client("a-feed") as a_feed:  # a's other unit, reported over HTTP: in a's picture
        report = {"unit_id": "ua-partner", "time": format_utc(time.time()), "lat_deg": 35.2, "lon_deg": 38.0}
        assert a_feed.post("/v1/tracks", json={"reports": [report]}).json()["accepted"] == 1
    with opentakserver(tmp_path / "ots") as server:
        server.queues += [uid, f"ALPHA-{uid[-6:]}", "keepclear.a", "keepclear a"]  # each client's uid, callsign
        (tmp_path / "interop.yaml").write_text(f"party: a\ncot:\n  {uid}: ua\n")
        command = [
            KEEPCLEAR, "interop", "run", "--mapping", str(tmp_path / "interop.yaml"), "--url", service.url,
            "--connect", f"cot:127.0.0.1:{server.tcp_port}", "--interval-s", "0.5", "--flush-s", "0.05",
        ]  # fmt: skip
        env = {"KEEPCLEAR_FEED_KEY": service.keys["a-feed"], "KEEPCLEAR_PICTURE_KEY": service.keys["a-liaison"]}
        adapter = ServedProcess(command, tmp_path / "interop.log", env=env, ready=log_says("ready:"))
        seen = Picture("xml")
        with adapter.start():
            time.sleep(2.0)  # keepclear's presence reaches the server, which then routes to it

            async def until(reader: asyncio.StreamReader, done: Callable[[], bool], what: str) -> None:
                deadline = time.monotonic() + 45.0
                while not done():
                    assert time.monotonic() < deadline, f"timed out waiting for {what}: got {sorted(seen.uids())}"
                    with contextlib.suppress(TimeoutError):
                        seen.feed(await asyncio.wait_for(reader.read(65_536), timeout=0.5))

            async def a_client() -> None:
                config = ConfigParser()
                config["client"] = {"COT_URL": f"tcp://127.0.0.1:{server.tcp_port}"}
                reader, writer = await pytak.protocol_factory(config["client"])  # A's TAK client, to the server
                await asyncio.sleep(1.5)  # OpenTAKServer drops a client's first event until its queue is open
                writer.write(sa(uid, 38.0, 0.0))
                await writer.drain()
                await until(reader, lambda: "ua" in tracks(service, "a-liaison"), "ua through the server")
                writer.write(sa(uid, 38.0, 0.0))
                await writer.drain()
                await until(reader, lambda: "keepclear.ua-partner" in seen.uids(), "a's picture through the server")
                assert "keepclear.ub" not in seen.uids()  # B's unit: not outside an alert
                # Head on, 40 km apart at 440 m/s closure: the alert comes back through the server.
                b_reports(service, 38.44, -SPEED_MPS)
                writer.write(sa(uid, 38.0, SPEED_MPS))
                await writer.drain()
                await until(reader, lambda: any(t == ALERT_TYPE for _, t, _ in seen.events), "the alert")
                writer.close()

            try:
                asyncio.run(a_client())
            except AssertionError as exc:
                raise AssertionError(f"{exc}\n{server.logs()}") from None
            returncode = adapter.interrupt()
    assert returncode == 0, adapter.log_text()
    with service.client("a-liaison") as a_liaison:
        [alert] = a_liaison.get("/v1/alerts").json()
    with service.client("b-liaison") as b_liaison:  # B's console reads the same alert (and its stream)
        assert [a["alert_id"] for a in b_liaison.get("/v1/alerts").json()] == [alert["alert_id"]]
    cot_alerts = {(e[0], e[2]) for e in seen.events if e[1] == ALERT_TYPE}  # its level as it was when sent
    assert {uid for uid, _ in cot_alerts} == {f"keepclear.alert.{alert['alert_id']}"}
    assert {level for _, level in cot_alerts} <= {"caution", "warning"}
    assert tracks(service, "a-liaison")["ua"]["lon_deg"] == pytest.approx(38.0, abs=0.1)
