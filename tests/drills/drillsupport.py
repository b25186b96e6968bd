"""A real ``keepclear serve`` subprocess that tests may kill -9 and start again on the same store.

The deployment is made once (two parties, forces, ``UNITS`` aircraft each, keys per role), then the
server runs as an operator runs it: ``keepclear --data-dir ... --database-url ... serve``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from keepclear.api.server import free_port
from keepclear.domain import Domain, Force, Party, Unit
from keepclear.domain.identity import Role
from keepclear.domain.parties import Contact
from keepclear.domain.timefmt import format_utc
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

KEEPCLEAR = str(Path(sys.executable).parent / "keepclear")
UNITS = 8


def unit_ids(party: str) -> list[str]:
    return [f"u{party}{i}" for i in range(UNITS)]


def populate(data_dir: Path, database_url: str) -> dict[str, str]:
    """Parties a and b with ``UNITS`` aircraft each; keys 'a-feed', 'a-liaison', 'b-liaison'..."""
    dep = Deployment.open(Settings(data_dir=data_dir, database_url=database_url), create=True)
    try:
        reg = dep.registry
        keys = {}
        for party in ("a", "b"):
            reg.add_party(Party(party, party.upper()), [Contact(f"{party} duty officer")])
            reg.add_force(Force(f"f{party}", f"Force {party}", party))
            for unit_id in unit_ids(party):
                reg.add_unit(Unit(unit_id, unit_id.upper(), Domain.AIR, "aircraft", f"f{party}"))
            for role in (Role.FEED, Role.LIAISON):
                keys[f"{party}-{role.value}"] = dep.keys.create(role, party, f"{party} {role.value}")[1]
        return keys
    finally:
        dep.close()


@dataclass
class Server:
    """``keepclear serve`` on one store; ``start`` and ``kill9`` as often as a test likes."""

    data_dir: Path
    database_url: str
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 300.0) -> None:
        cli = [KEEPCLEAR, "--data-dir", str(self.data_dir), "--database-url", self.database_url]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([*cli, "serve", "--port", str(self.port)], stdout=out, stderr=out)
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, self.log.read_text()[-4000:]
            try:
                if httpx.get(self.url + "/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"keepclear serve did not answer: {self.log.read_text()[-4000:]}"
            time.sleep(0.1)

    def kill9(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        self.proc = None


def client(server: Server, key: str, timeout_s: float = 10.0) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {key}"}, timeout=timeout_s)


def track_batch(party: str, time_s: float) -> dict[str, Any]:
    """One report of each of ``party``'s units at ``time_s`` (positions derived from the time)."""
    return {
        "reports": [
            {
                "unit_id": unit_id,
                "time": format_utc(time_s),
                "lat_deg": 50.0 + i * 0.1 + (time_s % 1000) * 1e-5,
                "lon_deg": 4.0 + (0.0 if party == "a" else 1.0),
                "alt_m": 9000.0 + i * 300,
                "vel_east_mps": 200.0,
                "vel_north_mps": 0.0,
                "vel_up_mps": 0.0,
            }
            for i, unit_id in enumerate(unit_ids(party))
        ]
    }


def history(server: Server, key: str, since_s: float) -> list[tuple[str, str]]:
    """The (unit, time) pairs of the caller's own units' track history from ``since_s``."""
    with client(server, key, 30.0) as c:
        response = c.get("/v1/tracks/history", params={"since": format_utc(since_s)})
        assert response.status_code == 200, response.text
        return [(p["unit_id"], p["time"]) for p in response.json()]
