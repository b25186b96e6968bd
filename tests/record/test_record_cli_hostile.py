"""``keepclear ledger`` given hostile input: a corrupted witness state file, seqs and sizes past 64
bits, an earlier export (``verify --since``) that does not verify, a bad pinned key. Each is one line
naming what was wrong and where, never ``internal error``; no alarm is raised over a party's own
unreadable file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from keepclear.cli.main import main
from keepclear.domain import Party
from keepclear.domain.parties import Contact
from keepclear.services.record.signer import open_ledger
from keepclear.services.record.witness import INCONSISTENT_KIND, alarm_text_problem
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from keepclear.store import ledger as store


@pytest.fixture
def data(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    deployment = Deployment.open(Settings(data_dir=data), clock=ManualClock(1_764_720_000.0), create=True)
    for party_id in ("a", "b"):
        deployment.registry.add_party(Party(party_id, party_id.upper()), [Contact("duty officer")])
    book = open_ledger(deployment.db, deployment.clock, data)
    book.append("message.posted", "a", {"text": "x"})
    book.append("message.posted", "b", {"text": "y"})
    deployment.close()
    return data


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def _alarms(data: Path) -> int:
    deployment = Deployment.open(Settings(data_dir=data), clock=ManualClock(1_764_720_000.0))
    try:
        with deployment.db.read() as conn:
            return len(store.list_entries(conn, kinds=[INCONSISTENT_KIND]))
    finally:
        deployment.close()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"garbage", "not a signed note"),
        (b"keepclear.ledger/x\n99999999999999999999\nAAAA\n\n\xe2\x80\x94 a AAAAAAAA\n", "tree size"),
        (b"keepclear.ledger/x\n9223372036854775808\nAAAA\n\n\xe2\x80\x94 a AAAAAAAA\n", "past the largest"),
        (b"\xff\xfe", "not UTF-8 text"),
    ],
)
def test_a_corrupted_witness_state_is_named_and_raises_no_alarm(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    """The state file was read and parsed inside the check: ``internal error: ValueError`` or
    ``UnicodeDecodeError``."""
    state = tmp_path / "a.head"
    state.write_bytes(content)
    code, out, err = _run(capsys, "--data-dir", str(data), "ledger", "witness", "--party", "a", "--state", str(state))
    assert code == 1 and out == "" and "internal error" not in err, err
    assert err.count("\n") == 1 and err.startswith(f"error: {state}: ") and message in err, err
    assert state.read_bytes() == content and _alarms(data) == 0


@pytest.mark.parametrize(
    "args",
    [
        ["ledger", "prove", "99999999999999999999"],
        ["ledger", "prove", "1", "--size", "99999999999999999999"],
        ["ledger", "cosignatures", "--size", "99999999999999999999"],
        ["ledger", "consistency", "1", "99999999999999999999"],
    ],
)
def test_a_seq_or_size_past_64_bits_is_named(data: Path, capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    """Was ``internal error: OverflowError: Python int too large to convert to SQLite INTEGER``."""
    code, _, err = _run(capsys, "--data-dir", str(data), *args)
    assert code != 0 and "internal error" not in err and "Traceback" not in err, err
    assert "99999999999999999999 is not in the range 1<=x<=4611686018427387904" in err, err


def test_an_earlier_export_that_does_not_verify_is_named(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``verify FILE --since EARLIER`` blamed FILE when EARLIER did not verify."""
    later, earlier = tmp_path / "later.json", tmp_path / "earlier.json"
    assert _run(capsys, "--data-dir", str(data), "ledger", "export", "-o", str(later))[0] == 0
    document = json.loads(later.read_text())
    document["entries"][1]["payload"] = '{"text":"edited"}'
    earlier.write_text(json.dumps(document))
    code, out, err = _run(capsys, "ledger", "verify", str(later), "--since", str(earlier))
    assert code == 1 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {earlier}: BAD: entry #1") and str(later) not in err, err


def test_a_bad_pinned_key_is_named_as_the_pinned_key(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proof = tmp_path / "proof.json"
    assert _run(capsys, "--data-dir", str(data), "ledger", "prove", "1", "-o", str(proof))[0] == 0
    code, _, err = _run(capsys, "ledger", "verify", str(proof), "--vkey", "not-a-key")
    assert code == 1 and err.count("\n") == 1, err
    assert "BAD: the pinned key: vkey: not name+hash+key" in err and "log_keys" not in err, err


def test_register_key_names_an_unknown_party_and_a_key_registered_before(
    data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``ledger register-key`` wrote a permanent key entry for any id given (a typo, a line break, an
    escape sequence), and a public key registered before was ``internal error: IntegrityError``."""
    key = "A" * 43 + "="
    base = ["--data-dir", str(data), "ledger", "register-key"]
    for party in ("ghost", "gh\x1b[2Jost"):
        code, _, err = _run(capsys, *base, party, key)
        assert code == 1 and err.count("\n") == 1 and "does not exist" in err, err
    assert _run(capsys, *base, "a", key)[0] == 0
    code, _, err = _run(capsys, *base, "b", key)
    assert code == 1 and err.count("\n") == 1 and "internal error" not in err, err
    assert "public_key: key ed25519:" in err and "is already registered (to a)" in err, err
    code, _, err = _run(capsys, "--data-dir", str(data), "ledger", "rotate", "b", "--public-key", key)
    assert code == 1 and "new_public_key: key ed25519:" in err and "already registered" in err, err
    export = data.parent / "export.json"
    assert _run(capsys, "--data-dir", str(data), "ledger", "export", "-o", str(export))[0] == 0
    owners = [k["owner"] for k in json.loads(export.read_text())["keys"]]
    assert "ghost" not in owners and not any("\x1b" in o for o in owners), owners


def test_witness_raises_an_alarm_whose_problem_is_one_line_the_api_would_take(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A head of another log than the one in the state file: the problem quotes both origins (a log's
    name has no length bound), and ``ledger witness`` raised an alarm whose problem was longer than
    ``POST /v1/record/inconsistency`` takes. Now the problem the CLI raises passes the API's rule."""
    state = tmp_path / "a.head"
    origin = "keepclear.ledger/" + "x" * 600
    state.write_text(f"{origin}\n1\n{'A' * 43}=\n\n\u2014 {origin} AAAAAAAA\n", encoding="utf-8")
    code, out, err = _run(capsys, "--data-dir", str(data), "ledger", "witness", "--party", "a", "--state", str(state))
    assert code == 1 and out == "" and err.count("\n") == 1 and "(alert raised)" in err, err
    deployment = Deployment.open(Settings(data_dir=data), clock=ManualClock(1_764_720_000.0))
    try:
        with deployment.db.read() as conn:
            (entry,) = store.list_entries(conn, kinds=[INCONSISTENT_KIND])
    finally:
        deployment.close()
    problem = json.loads(entry.payload)["problem"]
    assert alarm_text_problem(problem) is None, problem
    assert problem.startswith("the new head is of log keepclear.ledger/") and problem.endswith("\u2026"), problem


@pytest.mark.parametrize(
    "args",
    [
        ["ledger", "prove", "1", "--party"],
        ["ledger", "export", "--party"],
        ["ledger", "witness", "--key", "unused.pem", "--party"],
    ],
)
def test_an_unknown_party_is_named_in_one_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    """``ledger prove --party`` and ``ledger export --party`` took any id (a typo, a made-up party)
    and wrote a proof or an export "for" it; ``witness --party`` blamed a missing custodial key. Now
    one line naming the party, exit 1, nothing written."""
    output = tmp_path / "out.json"
    for party in ("ghost", "gh\x1b[2Jost"):
        code, out, err = _run(
            capsys, "--data-dir", str(data), *args, party, *(["-o", str(output)] * (args[1] != "witness"))
        )
        assert code == 1 and out == "" and err.count("\n") == 1, err
        assert f"party {party!r} does not exist" in err and "\x1b" not in err, err
    assert not output.exists() and _alarms(data) == 0
