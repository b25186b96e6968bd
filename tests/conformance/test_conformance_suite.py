"""``keepclear conformance`` against a fresh deployment, with today's known failures listed
(known_failures.txt): it must exit 0. The deployment is ``keepclear serve`` in a subprocess on a free
port, on SQLite and on PostgreSQL, and the scale-out topology of ``scripts/cluster up`` (two API
processes behind one address, detector workers, the NATS cluster, PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from served import Served, conformance, populate, serve

from scaleout import ScaleOut

KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")


@pytest.fixture(params=["sqlite", "postgres", "cluster"])
def deployment_served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Served]:
    """The deployment under test, populated with the suite's parties and keys."""
    if request.param == "cluster":
        cluster: ScaleOut = request.getfixturevalue("scale_out_cluster")
        keys_file = populate(cluster.url, cluster.admin_key, tmp_path / "keys.yaml")
        yield Served(cluster.url, keys_file, cluster.run_dir / "api1.log")
        return
    database_url = f"sqlite:///{tmp_path / 'keepclear.db'}"
    if request.param == "postgres":
        database_url = request.getfixturevalue("postgres_url")
    with serve(tmp_path, database_url) as served:
        yield served


def test_conformance_suite_passes_on_a_fresh_deployment_with_known_failures_listed(
    deployment_served: Served,
) -> None:
    done = conformance(deployment_served, "--json", "--known-failures", str(KNOWN_FAILURES))
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    bad = [f"{c['status']} {c['name']}: {c['reason']}" for c in report["checks"] if c["status"] in ("FAIL", "XPASS")]
    assert done.returncode == 0 and not bad, "\n".join(bad) or done.stderr
    # Every group ran: at least one check of each is in the report.
    groups = {c["name"].split(":")[0].split(".")[0] for c in report["checks"]}
    assert {"need-to-know", "lifecycle", "bad-input"} <= groups
