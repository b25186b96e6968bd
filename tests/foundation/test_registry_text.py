"""Registry text (party, force and contact names, contact roles, callsigns, unit kinds, API key
labels) is held to one rule in the domain (``domain.parties``, ``domain.limits.short_line_problem``),
the same for the CLI and the API on SQLite and PostgreSQL: at most the column's width and one line
without control characters, refused with a one-line error naming the field, nothing stored.

A party name of 201 characters was stored on SQLite and failed on PostgreSQL (varchar(200)) as an
internal error; a name holding a line break or an escape sequence was stored on both.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.domain.identity import Role
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from serving import cli_result, keepclear_cli

LONG_NAME = "N" * 201


def _cli(data_dir: Path, database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``keepclear`` on this store, none of the tests' own ``KEEPCLEAR_`` settings in its environment."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KEEPCLEAR_")}
    return cli_result(keepclear_cli(data_dir, database_url), *args, env=env)


def _refused(result: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert result.returncode != 0, result.stdout
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)


def test_the_cli_refuses_registry_text_past_its_column_or_with_control_characters(
    tmp_path: Path, database_url: str
) -> None:
    data = tmp_path / "data"
    assert _cli(data, database_url, "init").returncode == 0
    cases = [
        (["party", "add", "p1", "--name", LONG_NAME], ["name: 201 characters, at most 200"]),
        (["party", "add", "p1", "--name", "Alpha\nparty p2 Bravo"], ["name: holds a control character (U+000A)"]),
        (["party", "add", "p1", "--name", "\x1b[31mAlpha"], ["name: holds a control character (U+001B)"]),
        (["party", "add", "p1", "--contact", "C" * 201], ["roster[0].name: 201 characters, at most 200"]),
        (["party", "add", "p1", "--contact", "Duty:" + "R" * 201], ["roster[0].role: 201 characters"]),
        (["party", "add", "p1", "--contact", "Duty", "--contact", "Dep\tuty"], ["roster[1].name: holds a control"]),
    ]
    for args, fragments in cases:
        _refused(_cli(data, database_url, *args), *fragments)
    listed = _cli(data, database_url, "party", "list")
    assert listed.returncode == 0 and "p1" not in listed.stdout, listed.stdout

    assert _cli(data, database_url, "party", "add", "p1", "--name", "N" * 200, "--contact", "Duty:J3").returncode == 0
    more = [
        (["force", "add", "f1", "--party", "p1", "--name", LONG_NAME], ["name: 201 characters, at most 200"]),
        (["force", "add", "f1", "--party", "p1", "--name", "F\x7f"], ["name: holds a control character (U+007F)"]),
    ]
    for args, fragments in more:
        _refused(_cli(data, database_url, *args), *fragments)
    assert _cli(data, database_url, "force", "add", "f1", "--party", "p1").returncode == 0
    units = [
        (["--callsign", "C" * 65], ["callsign: 65 characters, at most 64"]),
        (["--callsign", "VIPER\r11"], ["callsign: holds a control character (U+000D)"]),
        (["--kind", "K" * 65], ["kind: 65 characters, at most 64"]),
        (["--kind", "fighter\x85"], ["kind: holds a control character (U+0085)"]),
    ]
    for extra, fragments in units:
        _refused(_cli(data, database_url, "unit", "add", "u1", "--force", "f1", "--domain", "air", *extra), *fragments)
    _refused(
        _cli(data, database_url, "keys", "create", "--role", "admin", "--label", "L" * 201), "label: 201 characters"
    )
    _refused(_cli(data, database_url, "keys", "create", "--role", "admin", "--label", "a\x1b]0;x\x07"), "label: holds")
    units_listed = _cli(data, database_url, "unit", "list")
    assert units_listed.returncode == 0 and "u1" not in units_listed.stdout


def test_the_api_refuses_control_characters_in_registry_text(tmp_path: Path, database_url: str) -> None:
    """The API's models bounded the lengths but let control characters through."""
    settings = Settings(data_dir=tmp_path / "data", database_url=database_url, tick_s=0.2)
    deployment = Deployment.open(settings, clock=WallClock(), create=True)
    try:
        admin = deployment.keys.create(Role.ADMIN, None, "admin")[1]
        with (
            ThreadedServer(create_app(settings, deployment=deployment)) as server,
            httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {admin}"}) as client,
        ):
            refused = [
                ("/v1/parties", {"id": "p1", "name": "Alpha\nBravo"}, "name: holds a control character (U+000A)"),
                (
                    "/v1/parties",
                    {"id": "p1", "name": "Alpha", "roster": [{"name": "Duty", "role": "J3\x1b[2J"}]},
                    "roster[0].role: holds a control character (U+001B)",
                ),
                ("/v1/keys", {"role": "admin", "label": "ops\rdesk"}, "label: holds a control character (U+000D)"),
            ]
            for path, body, fragment in refused:
                response = client.post(path, json=body)
                assert response.status_code == 422 and fragment in response.json()["detail"], response.text
            assert client.post("/v1/parties", json={"id": "p1", "name": "Alpha"}).status_code == 201
            assert client.post("/v1/forces", json={"id": "f1", "name": "F\x7f", "party_id": "p1"}).status_code == 422
            assert client.post("/v1/forces", json={"id": "f1", "name": "F", "party_id": "p1"}).status_code == 201
            unit = {"id": "u1", "callsign": "V\n1", "domain": "air", "force_id": "f1"}
            response = client.post("/v1/units", json=unit)
            assert response.status_code == 422 and "callsign: holds a control character" in response.text
            assert [p["id"] for p in client.get("/v1/parties").json()] == ["p1"]
            assert client.get("/v1/units").json() == []
    finally:
        deployment.close()
