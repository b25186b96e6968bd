"""Adapters inside `keepclear serve` (setting interop_file): checked before the service starts, run
beside it, their counters in /v1/metrics."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from apisupport import populate
from interopsupport import wait_for

from keepclear.api.server import free_port
from keepclear.errors import ValidationError
from keepclear.interop.cot import event_xml
from keepclear.interop.hosting import parse_adapters
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings
from serving import KEEPCLEAR, log_says, serve


def test_an_adapters_file_is_checked_completely(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("party: a\ncot:\n  ANDROID-A1: ua\n")
    (tmp_path / "bad.yaml").write_text("party: a\nicao:\n  XYZ: ua\n")
    text = """\
in:
  - name: a-tak
    mapping: a.yaml
    key_env: A_FEED_KEY
    listen: [cot:tcp:8087, cot:tls:8089, cot:pigeon:1]
  - name: a-tak
    mapping: bad.yaml
    key_env: UNSET_KEY
    receiver: [95, 4]
out:
  - name: a-out
    party: a
    key_env: A_LIAISON_KEY
    to: [ftp://x:1]
    colour: red
"""
    with pytest.raises(ValidationError) as caught:
        parse_adapters(text, "adapters.yaml", tmp_path, {"A_FEED_KEY": "k", "A_LIAISON_KEY": "k"})
    found = "\n".join(caught.value.problems)
    for expected in (
        "line 5: in[0].listen[2]: 'cot:pigeon:1': transport 'pigeon' is not one of",
        "in[0].tls: a tls listener needs tls",
        "line 6: in[1].name: 'a-tak' names two adapters",
        "in[1].key_env: the environment variable UNSET_KEY is not set",
        "in[1].receiver: lat 95.0 is outside",
        "in[1]: give at least one of listen, connect",
        "bad.yaml line 3: icao.XYZ",
        "out[0].to[0]: 'ftp://x:1': give udp://HOST:PORT, tcp://HOST:PORT or tls://HOST:PORT",
        "out[0].colour: unknown field",
    ):
        assert expected in found, f"{expected!r} not in\n{found}"
    good = parse_adapters(
        "in:\n  - {name: a-tak, mapping: a.yaml, key_env: A_FEED_KEY, listen: ['cot:udp:0']}\n",
        "adapters.yaml",
        tmp_path,
        {"A_FEED_KEY": "k"},
    )
    assert [a.name for a in good.inputs] == ["a-tak"] and good.inputs[0].mapping.party_id == "a"


def test_serve_runs_the_adapters_and_shows_their_counters(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", tick_s=0.2)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    keys = populate(dep)
    dep.close()
    cot_port, port = free_port(), free_port()
    (tmp_path / "a.yaml").write_text("party: a\ncot:\n  ANDROID-A1: ua\n  ANDROID-B1: ub\n")
    (tmp_path / "adapters.yaml").write_text(
        f"in:\n  - name: a-tak\n    mapping: a.yaml\n    key_env: A_FEED_KEY\n    listen: ['cot:udp:{cot_port}']\n"
    )
    env = {
        "KEEPCLEAR_INTEROP_FILE": str(tmp_path / "adapters.yaml"),
        "KEEPCLEAR_TICK_S": "0.2",
        "A_FEED_KEY": keys["a-feed"],
    }
    server = serve(tmp_path / "data", tmp_path / "serve.log", port=port, env=env, ready=log_says("ready: http"))
    with server.start():
        now_s = time.time()
        events = [
            event_xml(uid=uid, cot_type="a-f-A", time_s=now_s, stale_s=now_s + 60, lat_deg=36.5, lon_deg=3.0)
            for uid in ("ANDROID-A1", "ANDROID-B1")  # ub is party b's: refused by the service
        ]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.sendto(b"".join(events), ("127.0.0.1", cot_port))
            udp.sendto(b"<event garbage", ("127.0.0.1", cot_port))
        admin = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {keys['admin']}"})

        def counters() -> dict[str, float] | None:
            found: dict[str, float] = admin.get("/v1/metrics").json()["counters"]
            return found if found.get("interop_a-tak_refused") else None

        seen = wait_for(counters, what="the adapter's counters")
        admin.close()
        server.stop(wait_s=60)
    assert seen["interop_a-tak_messages"] == 2 and seen["interop_a-tak_malformed"] == 1
    assert (seen["interop_a-tak_accepted"], seen["interop_a-tak_refused"]) == (1, 1)
    # What the adapter holds now, beside its counters: the poster's buffer and its open connections.
    assert seen["interop_a-tak_pending"] == 0 and seen["interop_a-tak_connections"] == 0
    assert seen["interop_a-tak_closed_slow"] == 0
    assert "Traceback" not in server.log_text()


def test_serve_refuses_to_start_with_a_bad_adapters_file(tmp_path: Path) -> None:
    (tmp_path / "adapters.yaml").write_text("in:\n  - name: A B\n")
    env = {**os.environ, "KEEPCLEAR_INTEROP_FILE": str(tmp_path / "adapters.yaml")}
    done = subprocess.run(
        [KEEPCLEAR, "--data-dir", str(tmp_path / "data"), "serve", "--port", str(free_port())],
        capture_output=True, text=True, timeout=120, env=env,
    )  # fmt: skip
    assert done.returncode != 0
    assert "adapters.yaml line 2: in[0].name: must be 1-40 of" in done.stderr and "Traceback" not in done.stderr


def test_one_tak_port_for_every_party_is_configured_by_certificate_subject(tmp_path: Path) -> None:
    for name in ("a.yaml", "b.yaml"):
        (tmp_path / name).write_text(f"party: {name[0]}\ncot:\n  ANDROID-{name[0].upper()}1: u{name[0]}\n")
    for name in ("server.pem", "server.key", "ca.pem"):
        (tmp_path / name).write_text("-")
    head = """\
in:
  - {name: a-tak, mapping: a.yaml, key_env: A_FEED_KEY, listen: ['cot:udp:0']}
  - {name: b-tak, mapping: b.yaml, key_env: B_FEED_KEY, listen: ['cot:udp:0']}
tak:
  listen: [0.0.0.0:8089]
  tls: {certificate: server.pem, key: server.key, client_ca: ca.pem}
"""
    environ = {"A_FEED_KEY": "k", "B_FEED_KEY": "k"}
    good = parse_adapters(
        head + "  clients:\n    - {subject: O=Party A, in: a-tak}\n    - {subject: OU=Bravo, in: b-tak}\n",
        "adapters.yaml", tmp_path, environ,
    )  # fmt: skip
    assert good.tak is not None and [e.port for e in good.tak.endpoints] == [8089]
    assert good.tak.rules == [("organizationName", "Party A", "a-tak"), ("organizationalUnitName", "Bravo", "b-tak")]
    with pytest.raises(ValidationError) as caught:
        parse_adapters(
            head + "  clients:\n    - {subject: C=SY, in: a-tak}\n    - {subject: O=X, in: c-tak}\n",
            "adapters.yaml", tmp_path, environ,
        )  # fmt: skip
    found = "\n".join(caught.value.problems)
    assert "tak.clients[0].subject: 'C=SY': subject attribute 'C' is not one of O, OU, CN" in found
    assert "tak.clients[1].in: 'c-tak' names no in adapter" in found
