"""Helpers of the cluster tests: ``scripts/cluster`` on ports shifted per test module.

A module sets ``PORT_OFFSET`` (its nodes listen on 4230+offset+N), so its cluster never meets a
developer's own ``scripts/cluster up`` (offset 0) nor another module's running at the same time
(``conftest.running_cluster``).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cluster"


def servers(offset: int) -> list[str]:
    """The client URLs of the three nodes at ``offset``."""
    return [f"nats://127.0.0.1:{4230 + offset + k}" for k in (1, 2, 3)]


def cluster(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``scripts/cluster`` with ``args`` in the cluster ``env`` names."""
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=40, check=False)
