"""The scale-out topology for the end-to-end tests: ``scripts/cluster up`` on 127.0.0.1, once per session.

The end-to-end suites (the conformance suite, the converging-aircraft flow) run against the embedded
default and against this: three NATS nodes, a PostgreSQL schema of its own, two API processes sharing
one port and two detector workers, all started by the project's own script the way an operator
starts them. The tests reach it only through its one address and the admin key ``up`` made.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "cluster"
#: Ports shifted by this (the modules of tests/cluster use 100-500); KEEPCLEAR_TEST_SCALE_OUT_OFFSET
#: moves it where several people run clusters on one machine.
PORT_OFFSET = int(os.environ.get("KEEPCLEAR_TEST_SCALE_OUT_OFFSET", "600"))
#: Longest ``up`` may take: the processes may compile the probe's kernels on a cold cache.
UP_S = 420.0


@dataclass(frozen=True)
class ScaleOut:
    """The running topology: its one address, the admin key ``up`` made, the run folder and environment."""

    url: str
    admin_key: str
    run_dir: Path
    env: dict[str, str]

    def logs(self, chars: int = 3000) -> str:
        """The tail of each keepclear process's log, for a failing assertion's message."""
        return "\n".join(
            f"--- {log.name}\n{log.read_text(errors='replace')[-chars:]}"
            for log in sorted(self.run_dir.glob("*.log"))
            if not log.name.startswith("n")
        )


def cluster(*args: str, env: dict[str, str], timeout_s: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/cluster`` with ``args`` in the cluster ``env`` names."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=timeout_s, check=False)


@contextmanager
def scale_out(
    run_dir: Path, database_url: str, *, offset: int = PORT_OFFSET, api: int = 2, workers: int = 2
) -> Iterator[ScaleOut]:
    """``scripts/cluster up`` (``api`` API processes, ``workers`` workers, ports shifted by ``offset``)
    on ``database_url``; ``down --wipe`` afterwards."""
    env = dict(
        os.environ,
        KEEPCLEAR_CLUSTER_DIR=str(run_dir),
        KEEPCLEAR_CLUSTER_PORT_OFFSET=str(offset),
        KEEPCLEAR_CLUSTER_DATABASE_URL=database_url,
        KEEPCLEAR_PYTHON=sys.executable,
    )
    t0 = time.monotonic()
    try:
        up = cluster("up", "--api", str(api), "--workers", str(workers), env=env, timeout_s=UP_S)
        assert up.returncode == 0, up.stdout + up.stderr
        print(f"scripts/cluster up: {time.monotonic() - t0:.1f} s\n{up.stdout}")
        port = 18000 + offset
        yield ScaleOut(f"http://127.0.0.1:{port}", (run_dir / "admin.key").read_text().strip(), run_dir, env)
        status = cluster("status", env=env)
        assert status.returncode == 0, f"after the tests:\n{status.stdout}{status.stderr}"
    finally:
        down = cluster("down", "--wipe", env=env)
        assert down.returncode == 0, down.stdout + down.stderr
