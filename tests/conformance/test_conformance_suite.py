"""``keepclear conformance`` against a fresh ``keepclear serve`` (a subprocess on a free port), on SQLite
and on PostgreSQL: with today's known failures listed (known_failures.txt), it must exit 0."""

from __future__ import annotations

import json
from pathlib import Path

from served import conformance, serve

KNOWN_FAILURES = Path(__file__).with_name("known_failures.txt")


def test_conformance_suite_passes_on_a_fresh_deployment_with_known_failures_listed(
    tmp_path: Path, database_url: str
) -> None:
    with serve(tmp_path, database_url) as served:
        done = conformance(served, "--json", "--known-failures", str(KNOWN_FAILURES))
    assert done.stdout, done.stderr
    report = json.loads(done.stdout)
    bad = [f"{c['status']} {c['name']}: {c['reason']}" for c in report["checks"] if c["status"] in ("FAIL", "XPASS")]
    assert done.returncode == 0 and not bad, "\n".join(bad) or done.stderr
    # Every group ran: at least one check of each is in the report.
    groups = {c["name"].split(":")[0].split(".")[0] for c in report["checks"]}
    assert {"need-to-know", "lifecycle", "bad-input"} <= groups
