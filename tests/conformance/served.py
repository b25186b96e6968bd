"""A fresh ``keepclear serve`` in a subprocess on a free port, with three parties and a key per role.

The deployment is made the way an operator makes one: ``keepclear init`` and ``keepclear keys create``
for the admin key on the command line, then parties and their keys through the API with that key
(``populate``, which the scale-out cluster's run uses too: ``scripts/cluster up`` made its admin key).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml

import serving
from serving import KEEPCLEAR, keepclear_cli, run_cli

PARTIES = ("alpha", "bravo", "charlie")


@dataclass(frozen=True)
class Served:
    url: str
    keys_file: Path
    log: Path


@contextmanager
def serve(tmp_path: Path, database_url: str) -> Iterator[Served]:
    """Start the server, populate it, write the keys file; stop the server afterwards."""
    base = keepclear_cli(tmp_path / "data", database_url)
    run_cli(base, "init")
    admin = run_cli(base, "keys", "create", "--role", "admin", "--label", "conformance admin")
    log = tmp_path / "serve.log"
    with serving.serve(tmp_path / "data", log, database_url=database_url).start(240) as server:
        yield Served(server.url, populate(server.url, admin, tmp_path / "keys.yaml"), log)


def populate(url: str, admin: str, keys_file: Path) -> Path:
    """Make the suite's parties and a key per role through the API at ``url`` with the ``admin`` key,
    as an operator does on a deployment that runs; write them to ``keys_file`` (the suite's --keys)."""
    keys: dict[str, object] = {"admin": admin, "parties": {}}
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {admin}"}, timeout=30) as client:
        for party in PARTIES:
            made = client.post(
                "/v1/parties",
                json={"id": party, "name": party.title(), "roster": [{"name": f"{party} duty officer"}]},
            )
            assert made.status_code == 201, made.text
            roles = {}
            for role in ("liaison", "observer", "feed"):
                key = client.post("/v1/keys", json={"role": role, "party_id": party, "label": f"{party} {role}"})
                assert key.status_code == 201, key.text
                roles[role] = key.json()["key"]
            keys["parties"][party] = roles  # type: ignore[index]
    keys_file.write_text(yaml.safe_dump(keys))
    return keys_file


def conformance(served: Served, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``keepclear conformance`` against ``served``."""
    return subprocess.run(
        [KEEPCLEAR, "conformance", served.url, "--keys", str(served.keys_file), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, **(env or {})},
    )
