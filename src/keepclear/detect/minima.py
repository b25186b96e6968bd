"""Separation minima and lookahead for each pair of domains (air, land, sea).

Defaults follow the brief (the table in ``docs/architecture.md``). A vertical minimum of ``math.inf`` means "no vertical criterion"
(surface units on the same plane: any altitude difference still counts as a conflict).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from keepclear.domain import Domain

NM_M = 1852.0
FT_M = 0.3048

#: Integer codes of the domains in the columnar arrays.
DOMAIN_CODES: dict[Domain, int] = {Domain.AIR: 0, Domain.LAND: 1, Domain.SEA: 2}


@dataclass(frozen=True, slots=True)
class SeparationMinima:
    """Two units closer than ``horizontal_m`` AND closer than ``vertical_m`` have lost separation.

    Conflicts are looked for from now to ``lookahead_s`` ahead.
    """

    horizontal_m: float
    vertical_m: float
    lookahead_s: float

    def problems(self) -> list[str]:
        """What is wrong with these numbers (empty when sound)."""
        out: list[str] = []
        if not (math.isfinite(self.horizontal_m) and self.horizontal_m > 0):
            out.append(f"horizontal_m: {self.horizontal_m!r} must be a finite number > 0")
        if math.isnan(self.vertical_m) or self.vertical_m <= 0:
            out.append(f"vertical_m: {self.vertical_m!r} must be > 0 (inf for no vertical criterion)")
        if not (math.isfinite(self.lookahead_s) and self.lookahead_s >= 0):
            out.append(f"lookahead_s: {self.lookahead_s!r} must be a finite number >= 0")
        return out


def _air_air() -> SeparationMinima:
    return SeparationMinima(5 * NM_M, 1000 * FT_M, 300.0)


def _air_surface() -> SeparationMinima:
    return SeparationMinima(2 * NM_M, 3000 * FT_M, 120.0)


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Minima per pair of domains (the pair is unordered: air–land is land–air).

    ``land_sea`` is not in the brief: it defaults to the land–land row (a shore unit and a
    vessel meet on the surface at land speeds).
    """

    air_air: SeparationMinima = field(default_factory=_air_air)
    air_land: SeparationMinima = field(default_factory=_air_surface)
    air_sea: SeparationMinima = field(default_factory=_air_surface)
    sea_sea: SeparationMinima = field(default_factory=lambda: SeparationMinima(1 * NM_M, math.inf, 1200.0))
    land_land: SeparationMinima = field(default_factory=lambda: SeparationMinima(2000.0, math.inf, 1800.0))
    land_sea: SeparationMinima = field(default_factory=lambda: SeparationMinima(2000.0, math.inf, 1800.0))

    def minima_for(self, a: Domain, b: Domain) -> SeparationMinima:
        """The minima between a unit in domain ``a`` and one in domain ``b``."""
        pair = frozenset((a, b))
        table: dict[frozenset[Domain], SeparationMinima] = {
            frozenset((Domain.AIR,)): self.air_air,
            frozenset((Domain.AIR, Domain.LAND)): self.air_land,
            frozenset((Domain.AIR, Domain.SEA)): self.air_sea,
            frozenset((Domain.SEA,)): self.sea_sea,
            frozenset((Domain.LAND,)): self.land_land,
            frozenset((Domain.LAND, Domain.SEA)): self.land_sea,
        }
        return table[pair]

    def domain_pairs(self) -> list[tuple[Domain, Domain, SeparationMinima]]:
        """Every unordered pair of domains with its minima, in a fixed order."""
        d = Domain
        return [
            (d.AIR, d.AIR, self.air_air),
            (d.AIR, d.LAND, self.air_land),
            (d.AIR, d.SEA, self.air_sea),
            (d.LAND, d.LAND, self.land_land),
            (d.LAND, d.SEA, self.land_sea),
            (d.SEA, d.SEA, self.sea_sea),
        ]

    def problems(self) -> list[str]:
        """What is wrong with any row (empty when sound)."""
        return [f"{a.value}-{b.value}.{p}" for a, b, m in self.domain_pairs() for p in m.problems()]
