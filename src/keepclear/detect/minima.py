"""The probe's separation minima: a row per pair of domains, and the domains' integer codes.

The pairs and the default rows are declared once, in ``domain.minima`` (the settings read them
too); this module holds them in the shape the probe and the alert book use: ``ProbeSettings`` (a
row per ``DomainPair``) and the columnar arrays' domain codes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from keepclear.domain import Domain
from keepclear.domain.minima import DEFAULT_MINIMA, FT_M, NM_M, DomainPair, SeparationMinima

__all__ = [
    "DOMAIN_CODES",
    "FT_M",
    "NM_M",
    "PAIRS",
    "DomainPair",
    "ProbeSettings",
    "SeparationMinima",
    "pair_indices",
]

#: Integer codes of the domains in the columnar arrays.
DOMAIN_CODES: dict[Domain, int] = {Domain.AIR: 0, Domain.LAND: 1, Domain.SEA: 2}
#: Every pair in a fixed order: ``pair_indices`` answers positions in it.
PAIRS: tuple[DomainPair, ...] = tuple(DomainPair)
_CODE_DOMAINS = sorted(DOMAIN_CODES, key=DOMAIN_CODES.__getitem__)
#: ``_PAIR_INDEX[code_a, code_b]``: the position in ``PAIRS`` of two domain codes' pair.
_PAIR_INDEX = np.array([[PAIRS.index(DomainPair.of(a, b)) for b in _CODE_DOMAINS] for a in _CODE_DOMAINS])


def pair_indices(code_a: npt.NDArray[np.int64], code_b: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """The position in ``PAIRS`` of each pair of domain codes (either order).

    >>> [PAIRS[i] for i in pair_indices(np.array([2, 0]), np.array([0, 0]))]
    [<DomainPair.AIR_SEA: 'air_sea'>, <DomainPair.AIR_AIR: 'air_air'>]
    """
    out: npt.NDArray[np.int64] = _PAIR_INDEX[code_a, code_b]
    return out


def _default(pair: DomainPair) -> SeparationMinima:
    return DEFAULT_MINIMA[pair]


@dataclass(frozen=True, slots=True)
class ProbeSettings:
    """Minima per pair of domains (the pair is unordered: air–land is land–air), one field per
    ``DomainPair`` named by its value (a test pins it); defaults ``domain.minima.DEFAULT_MINIMA``."""

    air_air: SeparationMinima = field(default_factory=lambda: _default(DomainPair.AIR_AIR))
    air_land: SeparationMinima = field(default_factory=lambda: _default(DomainPair.AIR_LAND))
    air_sea: SeparationMinima = field(default_factory=lambda: _default(DomainPair.AIR_SEA))
    land_land: SeparationMinima = field(default_factory=lambda: _default(DomainPair.LAND_LAND))
    land_sea: SeparationMinima = field(default_factory=lambda: _default(DomainPair.LAND_SEA))
    sea_sea: SeparationMinima = field(default_factory=lambda: _default(DomainPair.SEA_SEA))

    @classmethod
    def from_rows(cls, rows: Mapping[DomainPair, SeparationMinima]) -> ProbeSettings:
        """Minima from a row per pair; a pair ``rows`` lacks keeps its default."""
        return cls(**{pair.value: rows[pair] for pair in DomainPair if pair in rows})

    def row(self, pair: DomainPair) -> SeparationMinima:
        """The minima of ``pair``."""
        minima: SeparationMinima = getattr(self, pair.value)
        return minima

    def rows(self) -> dict[DomainPair, SeparationMinima]:
        """Every pair's minima, in the order of ``DomainPair``."""
        return {pair: self.row(pair) for pair in DomainPair}

    def minima_for(self, a: Domain, b: Domain) -> SeparationMinima:
        """The minima between a unit in domain ``a`` and one in domain ``b``."""
        return self.row(DomainPair.of(a, b))

    def domain_pairs(self) -> list[tuple[Domain, Domain, SeparationMinima]]:
        """Every unordered pair of domains with its minima, in the order of ``DomainPair``."""
        return [(*pair.domains, minima) for pair, minima in self.rows().items()]

    def problems(self) -> list[str]:
        """What is wrong with any row (empty when sound)."""
        return [f"{a.value}-{b.value}.{p}" for a, b, m in self.domain_pairs() for p in m.problems()]
