"""Separation minima per pair of domains: the pairs, one row of minima, and the default table.

The one declaration of the domain pairs and of the default minima: the settings (``Settings.minima``)
take their defaults and keys from here, the probe (``detect.minima.ProbeSettings``) its rows. It lives
at the bottom layer so that both can import it. Defaults follow the brief (the table in
``docs/architecture.md``). A vertical minimum of ``math.inf`` means "no vertical criterion" (surface units
on the same plane: any altitude difference still counts as a conflict).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from keepclear.domain.parties import Domain

NM_M = 1852.0
FT_M = 0.3048


class DomainPair(enum.StrEnum):
    """An unordered pair of domains (air–land is land–air), named lower domain first.

    >>> DomainPair.of(Domain.SEA, Domain.AIR), DomainPair.AIR_SEA.domains
    (<DomainPair.AIR_SEA: 'air_sea'>, (<Domain.AIR: 'air'>, <Domain.SEA: 'sea'>))
    """

    AIR_AIR = "air_air"
    AIR_LAND = "air_land"
    AIR_SEA = "air_sea"
    LAND_LAND = "land_land"
    LAND_SEA = "land_sea"
    SEA_SEA = "sea_sea"

    @property
    def domains(self) -> tuple[Domain, Domain]:
        """The two domains, in the order of ``Domain``."""
        first, second = self.value.split("_")
        return Domain(first), Domain(second)

    @classmethod
    def of(cls, a: Domain, b: Domain) -> DomainPair:
        """The pair of a unit in domain ``a`` and one in domain ``b``."""
        order = list(Domain)
        low, high = sorted((a, b), key=order.index)
        return cls(f"{low.value}_{high.value}")


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


_AIR_SURFACE = SeparationMinima(2 * NM_M, 3000 * FT_M, 120.0)
_SURFACE_LAND = SeparationMinima(2000.0, math.inf, 1800.0)

#: The default minima of every pair. ``land_sea`` is not in the brief: it is the land–land row (a
#: shore unit and a vessel meet on the surface at land speeds).
DEFAULT_MINIMA: Mapping[DomainPair, SeparationMinima] = MappingProxyType(
    {
        DomainPair.AIR_AIR: SeparationMinima(5 * NM_M, 1000 * FT_M, 300.0),
        DomainPair.AIR_LAND: _AIR_SURFACE,
        DomainPair.AIR_SEA: _AIR_SURFACE,
        DomainPair.LAND_LAND: _SURFACE_LAND,
        DomainPair.LAND_SEA: _SURFACE_LAND,
        DomainPair.SEA_SEA: SeparationMinima(1 * NM_M, math.inf, 1200.0),
    }
)
