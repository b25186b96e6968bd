"""What the detector workers are given, without a bus: the track messages, the subjects, the refusals.

Track messages read back what was written; a message that does not read is refused naming what is
wrong; reports go to their cell's subject, over-fast units to ``wide``, a big cell in several
messages. ``keepclear worker detect`` and ``detect_in_workers`` refuse what cannot work with a
clear message, before anything connects. A worker tells its share's earlier runs' alerts by the run
mark on their events (never by an id of today's shape, which names nobody), or by an id of the shape
workers gave before.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

pytest.importorskip("nats")

from hypothesis import given
from hypothesis import strategies as st

from keepclear.cli.main import cli
from keepclear.detect.alerts import ALERT_ID_BITS
from keepclear.detect.cells import CellPlan, cells_in_view
from keepclear.domain import Domain
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.errors import ValidationError
from keepclear.services.runtime.detect_shares import cells_of_worker, shares_of_workers, worker_name_problem
from keepclear.services.runtime.nats_tracks import track_subjects
from keepclear.services.runtime.run_marks import raised_by, raised_earlier, run_mark, share_run_of
from keepclear.services.tactical.track_wire import (
    BINARY_MAGIC,
    MAX_REPORTS_PER_MESSAGE,
    WIDE,
    message_key,
    reports_from_bytes,
    reports_to_bytes,
    reports_to_json,
    split_by_cell,
)
from keepclear.services.tactical.tracks import ReportColumns
from keepclear.settings import Settings


def columns(lat: list[float], lon: list[float], speed_mps: float = 200.0) -> ReportColumns:
    n = len(lat)
    values = np.zeros((n, 7))
    values[:, 0] = 1_800_000_000.0 + np.arange(n)
    values[:, 1], values[:, 2], values[:, 3], values[:, 5] = lat, lon, 7_000.0, speed_mps
    return ReportColumns([f"u{k}" for k in range(n)], values, ["a"] * n, [Domain.AIR] * n)


def test_a_message_reads_back_what_was_written_and_its_key_follows_its_bytes() -> None:
    batch = columns([39.9, 40.1, 40.2], [35.0, 35.0, 35.0])
    batch = ReportColumns(batch.unit_ids, batch.values, ["a", "b", "a"], [Domain.AIR, Domain.SEA, Domain.AIR])
    data = reports_to_bytes(batch)
    assert data.startswith(BINARY_MAGIC)
    back = reports_from_bytes(data)
    assert back.unit_ids == batch.unit_ids and back.party_ids == batch.party_ids and back.domains == batch.domains
    assert np.array_equal(back.values, batch.values) and back.values.flags.writeable
    assert (
        message_key(data) == message_key(reports_to_bytes(back)) != message_key(reports_to_bytes(columns([1.0], [2.0])))
    )


def test_a_message_of_the_json_form_an_earlier_build_wrote_still_reads() -> None:
    batch = columns([39.9, 40.1], [35.0, 35.0])
    back = reports_from_bytes(reports_to_json(batch))
    assert back.unit_ids == batch.unit_ids and back.party_ids == batch.party_ids and back.domains == batch.domains
    assert np.array_equal(back.values, batch.values)


def _binary(head: bytes = b'{"parties":["a"],"domains":["air"]}', units: bytes = b"u", n: int = 1) -> bytes:
    """A binary message of ``n`` reports at zero, party code 0 and domain code 0, with ``head`` and ``units``."""
    counts = np.array([n, len(head), len(units)], dtype="<u4").tobytes()
    return BINARY_MAGIC + counts + bytes(56 * n + 3 * n) + head + units


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b"not json", "reports"),
        (b'{"v": 2, "units": [], "parties": [], "domains": [], "values": []}', "v"),
        (b'{"v": 1, "units": [1], "parties": ["a"], "domains": ["air"], "values": [[0,0,0,0,0,0,0]]}', "units"),
        (b'{"v": 1, "units": ["u"], "parties": ["a"], "domains": ["space"], "values": [[0,0,0,0,0,0,0]]}', "values"),
        (b'{"v": 1, "units": ["u", "w"], "parties": ["a"], "domains": ["air"], "values": [[0,0,0,0,0,0,0]]}', "values"),
        (BINARY_MAGIC + b"\x01", "reports"),
        (_binary()[:-1], "reports"),
        (_binary(units=b"u\nw"), "units"),
        (_binary(head=b'{"parties":["a"],"domains":["space"]}'), "domains"),
        (_binary(head=b'{"parties":[1],"domains":["air"]}'), "parties"),
        (_binary(head=b'{"parties":[],"domains":["air"]}'), "head"),
        (_binary(head=b"{no"), "head"),
    ],
)
def test_a_message_that_does_not_read_is_refused_naming_the_field(data: bytes, field: str) -> None:
    assert reports_from_bytes(_binary()).unit_ids == ["u"]  # the made-up message reads when nothing is spoilt
    with pytest.raises(ValidationError) as caught:
        reports_from_bytes(data)
    assert field in str(caught.value)


def test_a_chunk_of_batches_goes_as_one_message_a_cell_each_units_reports_in_order() -> None:
    plan = CellPlan()
    first, second = columns([39.9, 39.95], [35.0, 35.0]), columns([39.9, 39.95], [35.0, 35.0])
    second.values[:, 0] += 10.0
    by_subject = split_by_cell(plan, ReportColumns.joined([first, second]))
    [parts] = by_subject.values()
    [message] = [reports_from_bytes(reports_to_bytes(p)) for p in parts]
    assert message.unit_ids == ["u0", "u1", "u0", "u1"]
    assert message.values[:, 0].tolist() == [*first.values[:, 0], *second.values[:, 0]]


def test_reports_go_to_their_cells_subject_fast_units_to_wide_and_big_cells_in_parts() -> None:
    plan = CellPlan()
    batch = columns([39.9, 40.1, 40.2], [35.0, 35.0, 35.0])
    batch.values[2, 5] = 900.0  # over the air speed cap: wide
    by_subject = split_by_cell(plan, batch)
    south, north = (str(c) for c in plan.grid.cell_of(np.array([39.9, 40.1]), np.array([35.0, 35.0])))
    assert {s: [p.unit_ids for p in parts] for s, parts in by_subject.items()} == {
        south: [["u0"]],
        north: [["u1"]],
        WIDE: [["u2"]],
    }
    big = split_by_cell(plan, columns([39.5] * (MAX_REPORTS_PER_MESSAGE + 1), [35.0] * (MAX_REPORTS_PER_MESSAGE + 1)))
    assert [len(p) for p in big[south]] == [MAX_REPORTS_PER_MESSAGE, 1]
    # a worker of the south cell consumes the north cell's subject too (the halo), and the wide units'
    view = cells_in_view(plan, np.array([int(south)])).tolist()
    assert int(north) in view
    assert {f"keepclear.tracks.{north}", "keepclear.tracks.wide"} <= set(track_subjects(view, plan.grid.cell_count))
    # a worker whose view is the globe takes every subject with one filter
    assert track_subjects(list(range(plan.grid.cell_count)), plan.grid.cell_count) == ["keepclear.tracks.>"]


def test_workers_by_index_share_every_cell_once() -> None:
    count = CellPlan().grid.cell_count
    shares = [cells_of_worker(count, i, 3) for i in range(3)]
    together = np.sort(np.concatenate(shares))
    assert np.array_equal(together, np.arange(count)) and all(len(s) for s in shares)
    with pytest.raises(ValidationError, match="worker_index"):
        cells_of_worker(count, 3, 3)
    assert worker_name_problem("w0of3") is None
    assert worker_name_problem("a.b") and worker_name_problem("") and worker_name_problem("x" * 65)


SHARE_NAMES = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_", min_size=1, max_size=64
)
RUNS = st.text(alphabet="0123456789abcdef", min_size=1, max_size=32)


@given(share=SHARE_NAMES, run=RUNS)
def test_a_run_mark_reads_back_its_share_and_run_whatever_dashes_the_share_has(share: str, run: str) -> None:
    assert share_run_of(run_mark(share, run)) == (share, run)


@given(text=st.text(max_size=80))
def test_a_text_that_reads_as_a_run_mark_is_exactly_that_mark(text: str) -> None:
    read = share_run_of(text)
    assert read is None or run_mark(*read) == text


@pytest.mark.parametrize(
    "text", ["", "w0of2", "w0of2/", "/0a1b", "w0of2/0A1B", "w0of2/0a1b/2c", "w0of2/0a 1b", "w0of2-0a1b"]
)
def test_what_is_not_a_run_mark_reads_as_none(text: str) -> None:
    assert share_run_of(text) is None


@given(bits=st.integers(min_value=0, max_value=(1 << ALERT_ID_BITS) - 1))
def test_an_alert_id_of_todays_shape_names_no_share(bits: int) -> None:
    assert raised_by(f"alert-{bits:0{ALERT_ID_BITS // 4}x}") is None


@pytest.mark.parametrize("share", ["w0of2", "w1of3-2of4", "south_1"])
def test_an_alert_id_of_the_old_shape_still_names_its_share_and_run(share: str) -> None:
    """Ids workers gave before the upgrade (``alert-<share>-<run>-<random>``): a worker starting after it
    still tells its earlier run's alerts by them, whatever dashes the share's name has."""
    for tail in ("0c4f1e9b27d3a86f51e2", "5e0b7c2a91d4f3086a2b"):
        assert raised_by(f"alert-{share}-0a1b2c3d-{tail}") == (share, "0a1b2c3d")


def _alert_event(alert_id: str, emitted_by: str | None = None) -> Event:
    return Event(EventKind.ALERT_RAISED, 0.0, None, {"alert_id": alert_id}, frozenset("ab"), emitted_by=emitted_by)


@pytest.mark.parametrize(
    ("alert_id", "emitted_by", "earlier"),
    [
        ("alert-0c4f1e9b27d3a86f51e2", "w0of2-1of2/5d2c90aa0c4f1e9b", True),  # this share, another run
        ("alert-0c4f1e9b27d3a86f51e2", "w0of2-1of2/77e0a1b2c3d4e5f6", False),  # this run
        ("alert-0c4f1e9b27d3a86f51e2", "w0of2-0of2/5d2c90aa0c4f1e9b", False),  # another share
        ("alert-0c4f1e9b27d3a86f51e2", "w0of2", False),  # not a mark
        ("alert-0c4f1e9b27d3a86f51e2", None, False),  # no mark: another process's (an acknowledgement)
        ("alert-w0of2-1of2-5d2c90aa-0c4f1e9b27d3a86f51e2", None, True),  # the old shape, another run
        ("alert-w0of2-1of2-77e0a1b2c3d4e5f6-0c4f1e9b27d3a86f51e2", None, False),  # the old shape, this run
        ("alert-w0of2-0of2-5d2c90aa-0c4f1e9b27d3a86f51e2", None, False),  # the old shape, another share
    ],
)
def test_an_earlier_runs_alert_is_told_by_the_run_mark_or_an_old_shaped_id(
    alert_id: str, emitted_by: str | None, earlier: bool
) -> None:
    assert raised_earlier(_alert_event(alert_id, emitted_by), "w0of2-1of2", "77e0a1b2c3d4e5f6") is earlier


@pytest.mark.parametrize("per_worker", [1, 2, 5])
def test_finer_shares_split_each_workers_cells_and_keep_one_owner_a_cell(per_worker: int) -> None:
    count = CellPlan().grid.cell_count
    shares = shares_of_workers(count, 3, per_worker)
    assert len(shares) == 3 * per_worker and len({s.name for s in shares}) == len(shares)
    assert all(worker_name_problem(s.name) is None for s in shares)  # each names a consumer and alert ids
    together = np.sort(np.concatenate([s.cells for s in shares]))
    assert np.array_equal(together, np.arange(count))  # every cell in exactly one share
    for index in range(3):
        own = [s for s in shares if s.worker == f"w{index}of3"]
        assert len(own) == per_worker and all(len(s.cells) for s in own)
        assert np.array_equal(
            np.sort(np.concatenate([s.cells for s in own])), cells_of_worker(count, index, 3, per_worker)
        )
    if per_worker == 1:  # one share a worker keeps the names (and so the consumers) of before
        assert [s.name for s in shares] == ["w0of3", "w1of3", "w2of3"]
    else:
        assert shares[1].name == "w0of3-1of" + str(per_worker)
    with pytest.raises(ValidationError, match="shares_per_worker"):
        shares_of_workers(count, 3, 0)
    with pytest.raises(ValidationError, match=r"leave .* empty"):  # more shares than cells: refused, named
        shares_of_workers(count, count, 2)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ([], "either --cells or --worker-index"),
        (["--cells", "1", "--worker-index", "0", "--workers", "2"], "either --cells or --worker-index"),
        (["--worker-index", "0"], "go together"),
        (["--worker-index", "2", "--workers", "2"], "2 is not in 0..1"),
        (["--worker-index", "0", "--workers", "2", "--name", "x"], "--name goes with --cells"),
        (["--cells", "1", "--adopt-after-s", "-1"], "--adopt-after-s"),
        (["--standby", "--worker-index", "0", "--workers", "2"], "--standby goes with --workers alone"),
        (["--standby"], "--standby goes with --workers alone"),
        (["--standby", "--workers", "2", "--no-adopt"], "cannot go with --no-adopt"),
        (["--standby", "--workers", "0"], "0 is not a number of workers"),
        (["--cells", "5-3"], "ends before it starts"),
        (["--cells", "x"], "not a cell number"),
        (["--cells", "1", "--shares-per-worker", "2"], "--shares-per-worker goes with --workers"),
        (["--worker-index", "0", "--workers", "2", "--shares-per-worker", "0"], "--shares-per-worker"),
        (["--cells", "1", "--build", "B2"], "--build"),
        (["--cells", "1"], "bus_url"),
    ],
)
def test_worker_detect_refuses_what_cannot_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.delenv("KEEPCLEAR_BUS_URL", raising=False)
    result = CliRunner().invoke(cli, ["--data-dir", str(tmp_path), "worker", "detect", *args])
    assert result.exit_code == 2, result.output
    assert expected in result.output


def test_worker_build_prints_the_stamp_a_worker_of_this_install_tells() -> None:
    from keepclear.services.runtime.detect_builds import build_stamp

    result = CliRunner().invoke(cli, ["worker", "build"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["build"] == build_stamp()
    assert re.fullmatch(r"[0-9a-f]{8}", build_stamp())


def test_detection_in_workers_without_a_bus_is_refused_naming_the_setting(tmp_path: Path) -> None:
    from keepclear.api.app import create_app
    from keepclear.services.runtime.deployment import Deployment

    settings = Settings(data_dir=tmp_path / "data", detect_in_workers=True)
    Deployment.open(settings, create=True).close()
    with pytest.raises(ValidationError, match="detect_in_workers"):
        create_app(settings)


def test_a_workers_shares_count_the_zones_they_cannot_draw_in_its_status_and_log_each_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A detector worker's shares left out the stored zones they cannot draw, each share logging each
    again, and counted none of them: the worker's status had no ``zones_undrawable``, which an API
    process's ``/v1/metrics`` has. Now its shares note them in the deployment's register: counted in
    every status line, logged once per process. Nothing connects: a share's zones are read at its start."""
    from shapely.geometry import LineString, Point

    from keepclear.domain.zones import Zone, ZoneKind
    from keepclear.services.runtime.config import RuntimeConfig
    from keepclear.services.runtime.deployment import Deployment
    from keepclear.services.runtime.detect_share_run import RunningShare
    from keepclear.services.runtime.detect_worker import DetectWorker
    from keepclear.services.runtime.nats_bus import NatsBus
    from keepclear.services.tactical.service import cell_plan
    from keepclear.store import Database

    settings = Settings(data_dir=tmp_path / "data", bus_url="nats://127.0.0.1:1")
    made = Deployment.open(Settings(data_dir=settings.data_dir), create=True)
    with made.db.write() as conn:
        made.zones.store_in(
            conn,
            [
                Zone("huge-site", "huge", ZoneKind.PROTECTED_SITE, Point(40.0, 35.0), buffer_m=1e300),
                Zone(
                    "huge-line", "wide", ZoneKind.DECONFLICTION_LINE, LineString([(40, 35), (40, 36)]), buffer_m=1e300
                ),
                Zone("site", "site", ZoneKind.PROTECTED_SITE, Point(40.0, 35.0), buffer_m=500.0),
            ],
            replace=True,
            party_id=None,
        )
    made.close()
    bus = NatsBus(["nats://127.0.0.1:1"])  # never connected
    deployment = Deployment(settings, Database(settings.resolved_database_url()), made.clock, bus)
    config = RuntimeConfig.from_settings(settings)
    plan = cell_plan(config.tactical, settings.detect_cell_deg)
    shares = shares_of_workers(plan.grid.cell_count, 1, 2)
    caplog.set_level(logging.WARNING, logger="keepclear.services.zones.undrawable")
    try:
        worker = DetectWorker(deployment, shares[0].worker, config, home=shares)
        assert worker.status()["zones_undrawable"] == 0
        running = [RunningShare(deployment, bus, config.tactical, plan, share) for share in shares]  # as start does
        assert [len(r.tactical.zone_watch.zones) for r in running] == [1, 1]
        assert worker.status()["zones_undrawable"] == 2
    finally:
        deployment.db.dispose()
    logged = sorted(r.getMessage().split()[1] for r in caplog.records if "cannot be drawn" in r.getMessage())
    assert logged == ["huge-line", "huge-site"], logged
