"""Read DAIDALUS ``.daa`` encounter files (lat/lon/alt ft, vx/vy knot, vz fpm) into states per time step."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from keepclear.detect.states import TrackStates

KNOT_MPS = 1852.0 / 3600.0
FPM_MPS = 0.3048 / 60.0


def read_daa(path: Path) -> list[tuple[float, TrackStates]]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
    names = [h.strip() for h in lines[0].split(",")]
    col = {n: k for k, n in enumerate(names)}
    steps: dict[float, list[list[str]]] = {}
    for ln in lines[2:]:
        f = [x.strip() for x in ln.split(",")]
        steps.setdefault(float(f[col["time"]]), []).append(f)
    out = []
    for t, rows in sorted(steps.items()):

        def c(name: str, rows: list[list[str]] = rows) -> np.ndarray:
            return np.array([float(r[col[name]]) for r in rows])

        n = len(rows)
        out.append(
            (
                t,
                TrackStates(
                    tuple(r[col["NAME"]] for r in rows),
                    np.arange(n, dtype=np.int64),
                    np.zeros(n, dtype=np.int64),
                    np.full(n, t),
                    c("lat"),
                    c("lon"),
                    c("alt") * 0.3048,
                    c("vx") * KNOT_MPS,
                    c("vy") * KNOT_MPS,
                    c("vz") * FPM_MPS,
                ),
            )
        )
    return out


def read_gold_levels(path: Path) -> dict[float, int]:
    lines = path.read_text().splitlines()[2:]
    return {float(ln.split(",")[0]): int(ln.split(",")[4]) for ln in lines if ln.strip()}


def read_gold_column(path: Path, index: int) -> dict[float, float]:
    lines = path.read_text().splitlines()[2:]
    return {float(ln.split(",")[0]): float(ln.split(",")[index].replace("infty", "inf")) for ln in lines if ln.strip()}
