"""``keepclear ledger`` and ``keepclear incident`` commands: exit codes and one-line messages."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import httpx
import pytest

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.cli.main import main
from keepclear.domain.events import Event
from keepclear.domain.identity import Role
from keepclear.errors import StoreUnavailableError
from keepclear.ledger import canonical_bytes, parse_export
from keepclear.ledger import export as export_module
from keepclear.services.incidents.service import IncidentService
from keepclear.services.record.signer import RecordSigner, open_ledger
from keepclear.services.runtime.bus import EventBus, ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import ledger as ledger_store

T0 = 1509494400.0


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A deployment with a recorded alert that lost separation, an incident and an account."""
    data = tmp_path / "data"
    deployment = Deployment.open(Settings(data_dir=data), clock=ManualClock(T0), create=True)
    bus = EventBus()
    ledger = open_ledger(deployment.db, deployment.clock, data)
    bus.subscribe_batches(RecordSigner(deployment.db, ledger).record)
    tracks = {"u1": [(T0 - 60, 35.0, 40.0), (T0, 35.01, 40.01)], "u2": [(T0 - 60, 35.02, 40.0), (T0, 35.011, 40.009)]}

    def tracks_for(unit_ids: list[str], start_s: float, end_s: float) -> list:
        from keepclear.domain import TrackReport

        return [TrackReport(u, t, lat, lon, 3000.0, 100.0, 0.0) for u in unit_ids for t, lat, lon in tracks[u]]

    incidents = IncidentService(deployment.db, deployment.clock, bus, tracks_for)
    bus.subscribe(incidents.on_event)
    parties = frozenset({"coalition", "russia"})
    bus.emit(Event("alert.raised", T0, None, {"alert_id": "al1", "los": True, "unit_ids": ["u1", "u2"]}, parties))
    deployment.clock.advance(700)  # type: ignore[attr-defined]
    incidents.freeze_due()
    (incident,) = incidents.list()
    incidents.add_account(incident.id, "russia", "Our aircraft kept 2 NM at all times.")
    assert bus.errors == []
    deployment.close()
    return data


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_export_then_verify_clean_and_tampered(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_file = tmp_path / "ledger.json"
    code, _, err = _run(capsys, "--data-dir", str(data_dir), "ledger", "export", "-o", str(out_file))
    assert code == 0 and "entries written to" in err
    code, out, _ = _run(capsys, "ledger", "verify", str(out_file))
    assert code == 0 and out.startswith(f"{out_file}: OK: ")

    doc = json.loads(out_file.read_text())
    i = next(i for i, e in enumerate(doc["entries"]) if e["statement"]["kind"] == "incident.account_added")
    doc["entries"][i]["payload"] = doc["entries"][i]["payload"].replace("2 NM", "5 NM")
    out_file.write_text(json.dumps(doc))
    code, out, err = _run(capsys, "ledger", "verify", str(out_file))
    assert code == 1 and out == ""
    assert (
        err
        == f"error: {out_file}: BAD: entry #{i} (seq {i + 1}, incident.account_added): payload does not match its signed hash (payload edited)\n"
    )


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file, not a ledger export"),
        (b"hello", "not JSON at line 1 column 1"),
        (b'{"format": "keepclear-ledger", "version": 1, "entr', "(the file looks truncated)"),
        (
            b'{"format": "keepclear-ledger", "version": 7}',
            "unknown export version 7; this keepclear reads versions 1, 2, 3",
        ),
        (b"[1, 2]", 'not a keepclear ledger export (no "format": "keepclear-ledger")'),
        (b"\xff\xfe", "not UTF-8 text"),
        (b'{"format": "keepclear-ledger", "version": 1, "entries": [], "checkpoints": [], "keys": {}}', "field 'keys'"),
    ],
)
def test_bad_files_get_one_line_and_no_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, out, err = _run(capsys, "ledger", "verify", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


VECTORS = Path(__file__).parent / "vectors"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"[" * 100_000, "JSON nested too deeply to read"),
        (b'{"format":' * 100_000, "JSON nested too deeply to read"),
        (b'{"format": "keepclear-ledger", "version": ' + b"9" * 5000 + b"}", "a number has more digits than"),
    ],
)
def test_hostile_json_gets_one_line_and_no_internal_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    """JSON nested deeper than the parser's stack, or an integer of more than 4,300 digits, was an
    "internal error: RecursionError/ValueError (please report this)", not a verdict on the file."""
    bad = tmp_path / "bad.json"
    bad.write_bytes(content)
    code, out, err = _run(capsys, "ledger", "verify", str(bad))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and message in err and "internal error" not in err, err


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ("[" * 5000 + "]" * 5000, "payload is not JSON (nested too deeply to read)"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "payload is not JSON (nested too deeply to read)"),
        ("9" * 5000, "payload is not JSON (a number has more digits than can be read)"),
    ],
)
def test_a_hostile_payload_does_not_verify_at_its_entry(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], payload: str, message: str
) -> None:
    """A payload (with its hash made to match) nested deeper than the parser's stack crashed the
    verifier; now it does not verify, at its entry."""
    document = json.loads((VECTORS / "clean-full.json").read_text())
    entry = document["entries"][1]
    entry["payload"] = payload
    entry["statement"]["payload_sha256"] = hashlib.sha256(payload.encode()).hexdigest()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    code, out, err = _run(capsys, "ledger", "verify", str(bad))
    assert code == 1 and out == "" and "internal error" not in err, err
    assert err.count("\n") == 1 and "entry #1 (seq 2" in err and message in err, err


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "ledger", "verify", str(tmp_path / "nope.json"))
    assert code == 1 and err.startswith("error: ") and "cannot read" in err


def test_entry_missing_fields_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(
        json.dumps(
            {
                "format": "keepclear-ledger",
                "version": 1,
                "exported_us": 0,
                "for_party": None,
                "entries": [{"seq": 1}],
                "rotations": [],
                "checkpoints": [],
                "keys": [],
            }
        )
    )
    code, _, err = _run(capsys, "ledger", "verify", str(bad))
    assert code == 1 and "entry #0: fields differ from the spec (missing ['key', 'payload', 'prev'" in err


def test_incident_list_show_report_and_metrics(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ("--data-dir", str(data_dir))
    code, out, _ = _run(capsys, *base, "incident", "list")
    assert code == 0
    (line,) = out.splitlines()
    incident_id = line.split("\t")[0]
    assert "separation-lost\topen\tcoalition,russia" in line
    code, out, _ = _run(capsys, *base, "incident", "show", incident_id)
    assert code == 0 and "account #1 by russia" in out and "evidence: " in out and "not frozen" not in out
    code, _, _ = _run(capsys, *base, "incident", "report", incident_id, "-o", str(tmp_path / "out"))
    html = (tmp_path / "out" / f"incident-{incident_id}.html").read_text()
    assert (
        code == 0
        and "data:image/png;base64," in html
        and "kept 2 NM" in html
        and "http" not in html.split("<body>")[1].split("Generated")[0]
    )
    code, out, _ = _run(
        capsys,
        *base,
        "incident",
        "metrics",
        "--from",
        "2017-11-01T00:00:00Z",
        "--to",
        "2017-11-02T00:00:00Z",
        "--format",
        "json",
    )
    assert code == 0 and json.loads(out)["incidents_by_kind"] == {"separation-lost": 1}
    code, out, _ = _run(
        capsys, *base, "incident", "metrics", "--from", "2017-11-01T00:00:00Z", "--to", "2017-11-02T00:00:00Z"
    )
    assert code == 0 and "incidents_by_kind,separation-lost,1" in out
    code, _, err = _run(capsys, *base, "incident", "metrics", "--from", "2017-11-02", "--to", "2017-11-01T00:00:00Z")
    assert code == 1 and "--from" in err and "time zone" in err
    code, _, err = _run(capsys, *base, "incident", "show", "inc-nothing")
    assert code == 1 and "does not exist" in err


@pytest.mark.parametrize("party", [None, "russia"])
def test_the_export_file_is_the_text_the_api_serves_and_it_verifies(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], party: str | None
) -> None:
    """The CLI parsed the text the API streams back into a document and wrote that again (indented,
    its fields reordered): it now writes the text itself, the bytes ``GET /v1/record/export`` gives
    the same reader (but for when each was made), and ``keepclear ledger verify`` passes on it."""
    if party is not None:
        assert _run(capsys, "--data-dir", str(data_dir), "party", "add", party)[0] == 0
    settings = Settings(data_dir=data_dir)
    deployment = Deployment.open(settings)
    key = deployment.keys.create(Role.ADMIN, None, "admin")[1] if party is None else None
    key = key or deployment.keys.create(Role.LIAISON, party, f"{party} liaison")[1]
    try:
        with ThreadedServer(create_app(settings, deployment=deployment)) as server:
            served = httpx.get(f"{server.url}/v1/record/export", headers={"Authorization": f"Bearer {key}"}, timeout=30)
    finally:
        deployment.close()
    assert served.status_code == 200, served.text
    (tmp_path / "out").mkdir()
    out_file = tmp_path / "out" / "ledger.json"
    chosen = () if party is None else ("--party", party)
    code, _, err = _run(capsys, "--data-dir", str(data_dir), "ledger", "export", "-o", str(out_file), *chosen)
    entries = len(json.loads(served.content)["entries"])
    assert code == 0 and err == f"{entries} entries written to {out_file}\n"

    def made_at_zero(text: bytes) -> bytes:
        return re.sub(rb'^\{"format":"keepclear-ledger","version":3,"exported_us":\d+,', b"EXPORTED_AT_0,", text)

    assert made_at_zero(out_file.read_bytes()) == made_at_zero(served.content)
    assert made_at_zero(served.content).startswith(b"EXPORTED_AT_0,")
    assert list(out_file.parent.iterdir()) == [out_file]  # nothing left beside it
    code, out, _ = _run(capsys, "ledger", "verify", str(out_file))
    assert code == 0 and out.startswith(f"{out_file}: OK: "), out


def test_an_export_that_fails_midway_leaves_the_file_as_it_was(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The file is written as the entries are read: a store that stops answering after the first
    chunk must not leave a part of an export where an earlier one was (nor a part beside it)."""
    out_file = tmp_path / "ledger.json"
    out_file.write_text("the export kept from yesterday")
    monkeypatch.setattr(export_module, "EXPORT_CHUNK_ENTRIES", 2)
    read = ledger_store.list_entries
    calls: list[int] = []

    def failing(*args: object, **kwargs: object) -> object:
        calls.append(1)
        if len(calls) > 1:
            raise StoreUnavailableError("the store does not answer")
        return read(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ledger_store, "list_entries", failing)
    code, _, err = _run(capsys, "--data-dir", str(data_dir), "ledger", "export", "-o", str(out_file))
    assert code == 1 and "the store cannot be reached" in err and len(calls) == 2
    assert out_file.read_text() == "the export kept from yesterday"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data", "ledger.json"]


def test_export_for_a_party_round_trips_through_the_parser(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys, "--data-dir", str(data_dir), "party", "add", "un")[0] == 0  # a party of the deployment
    code, out, _ = _run(capsys, "--data-dir", str(data_dir), "ledger", "export", "--party", "un")
    assert code == 0
    doc = parse_export(out.encode(), "stdout")
    assert doc["for_party"] == "un"
    assert doc["version"] == 3 and any(set(e) == {"seq", "prev", "hash"} for e in doc["entries"])
    assert canonical_bytes({"b": 1, "a": 2}) == b'{"a":2,"b":1}'


def test_strong_mode_from_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A party admitted (so holding a custodial key) switches to its own key with ``register-key``: a
    rotation signed by the custodial key; it then signs its own words, and both exports verify."""
    from keepclear.ledger import parse_submission

    data = tmp_path / "strong"
    assert _run(capsys, "--data-dir", str(data), "init")[0] == 0
    for party in ("coalition", "russia"):
        assert _run(capsys, "--data-dir", str(data), "party", "add", party)[0] == 0
    code, out, _ = _run(capsys, "ledger", "keygen", "-o", str(tmp_path / "russia.pem"))
    key_id, public_key = out.split()
    assert code == 0 and (tmp_path / "russia.pem").stat().st_mode & 0o777 == 0o600
    code, out, _ = _run(capsys, "--data-dir", str(data), "ledger", "register-key", "russia", public_key)
    assert code == 0 and out == f"russia: strong mode, key {key_id}\n"
    sign = ("ledger", "sign", "--key", str(tmp_path / "russia.pem"), "--party", "russia")
    payload = '{"activity_id": "a1", "reason": "protected site"}'
    code, out, _ = _run(
        capsys, *sign, "--kind", "activity.objected", "--payload", payload, "--audience", "coalition,russia"
    )
    assert code == 0
    deployment = Deployment.open(Settings(data_dir=data))
    try:
        ledger = open_ledger(deployment.db, deployment.clock, data)
        entry = ledger.append_submission(parse_submission(json.loads(out)))
        assert entry.key_id == key_id and entry.statement.audience == ("coalition", "russia")
    finally:
        deployment.close()
    code, _, err = _run(capsys, *sign, "--kind", "x", "--payload", "{bad")
    assert code == 1 and err.startswith("error: --payload: not JSON")
    code, _, err = _run(capsys, "--data-dir", str(data), "ledger", "register-key", "russia", public_key)
    assert code == 1 and "already in strong mode" in err and "rotate it instead" in err
    for reader in ("coalition", "russia", None):
        exported = tmp_path / f"export-{reader or 'full'}.json"
        party = ("--party", reader) if reader else ()
        assert _run(capsys, "--data-dir", str(data), "ledger", "export", "-o", str(exported), *party)[0] == 0
        code, out, _ = _run(capsys, "ledger", "verify", str(exported))
        assert code == 0 and out.startswith(f"{exported}: OK: "), out
    doc = json.loads(exported.read_text())  # the full export
    russia = [(e["statement"]["kind"], e["key"]) for e in doc["entries"] if e["statement"]["party"] == "russia"]
    assert [kind for kind, _ in russia] == ["key.rotated", "activity.objected"]
    assert russia[0][1] != key_id and russia[1][1] == key_id  # the custodial key signs the switch
    registered = [json.loads(e["payload"]) for e in doc["entries"] if e["statement"]["kind"] == "key.registered"]
    assert [(k["owner"], k["custodial"]) for k in registered] == [("coalition", True), ("russia", True)]
