"""Where the shared reference data lies: beside the repository checkout, in ``shared/reference``."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest

from keepclear.detect.states import TrackStates, states_from_track


def reference_dir(*parts: str) -> Path:
    """The folder, or a skip here and a failure on CI (env ``CI`` set) when it is missing."""
    path = Path(__file__).resolve().parents[2] / ".." / "shared" / "reference"
    path = path.joinpath(*parts)
    if not path.exists():
        message = f"reference data missing: {path} (the checkout must sit beside shared/)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def bluesky_states(path: Path) -> TrackStates:
    """The reference states.csv, every row its own party, all air."""
    with path.open(newline="") as f:
        rows = list(csv.DictReader(f))
    n = len(rows)

    def col(name: str) -> np.ndarray:
        return np.array([float(r[name]) for r in rows])

    return states_from_track(
        tuple(r["id"] for r in rows),
        np.arange(n, dtype=np.int64),
        np.zeros(n, dtype=np.int64),
        np.zeros(n),
        col("lat_deg"),
        col("lon_deg"),
        col("alt_m"),
        col("gs_mps"),
        col("trk_deg"),
        col("vs_mps"),
    )
