"""The mapping file: which external id (CoT uid, ICAO 24-bit address, MMSI) is which keepclear unit.

An id the file does not name is refused and counted, never turned into a new unit: a feed may carry
anything in range of its receiver, and only a party's own units are its to report.

    party: a                 # the party whose feed key posts these units
    cot:                     # CoT event uid -> unit
      ANDROID-589520ccfcd2: ua
    icao:                    # ICAO 24-bit address (6 hex digits) -> unit
      3C6444: ua
    mmsi:                    # MMSI (9 digits) -> unit
      211234560: ship1
    acknowledge:             # TAK users whose GeoChat "ACK <alert>" is the liaison's acknowledgement
      - ANDROID-589520ccfcd2
    propose_zones: true      # shapes drawn on the party's TAK become zone proposals (default false)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path as FilePath

from keepclear.errors import ValidationError
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import load_located, read_utf8


class IdKind(StrEnum):
    """The kinds of external id a feed names its objects by."""

    COT = "cot"
    ICAO = "icao"
    MMSI = "mmsi"


_ICAO_RE = re.compile(r"^[0-9A-Fa-f]{6}$")
_MMSI_RE = re.compile(r"^[0-9]{9}$")
_COT_UID_MAX = 200


def normal_id(kind: IdKind, raw: str) -> str | None:
    """The canonical spelling of an external id (ICAO upper-case hex, MMSI nine digits), None when malformed."""
    text = raw.strip()
    if kind is IdKind.ICAO:
        return text.upper() if _ICAO_RE.match(text) else None
    if kind is IdKind.MMSI:
        return text if _MMSI_RE.match(text) else None
    return text if 0 < len(text) <= _COT_UID_MAX and text.isprintable() else None


_WHAT = {
    IdKind.COT: "a CoT uid (printable text, at most 200 characters)",
    IdKind.ICAO: "an ICAO 24-bit address: 6 hex digits, e.g. 3C6444",
    IdKind.MMSI: "an MMSI: 9 digits, e.g. 211234560",
}


@dataclass(frozen=True)
class Mapping:
    """External id -> keepclear unit id, per kind of id, for one party's feeds."""

    party_id: str
    units: dict[IdKind, dict[str, str]] = field(default_factory=dict)
    #: CoT uids of TAK users whose GeoChat "ACK <alert>" acknowledges an alert as the party's liaison.
    acknowledgers: frozenset[str] = frozenset()
    #: Shapes drawn on the party's TAK (u-d-*) are proposed as zones for an admin to accept.
    propose_zones: bool = False
    #: The force unmapped ids become units of (auto-created units; None: off, the default).
    auto_create_force: str | None = None

    def unit_for(self, kind: IdKind, external_id: str) -> str | None:
        """The unit an external id names, None when the file does not name it."""
        table = self.units.get(kind)
        if not table:
            return None
        found = table.get(external_id)
        if found is None and kind is not IdKind.COT:
            canon = normal_id(kind, external_id)
            found = table.get(canon) if canon is not None else None
        return found

    def external_ids(self, kind: IdKind) -> dict[str, str]:
        """unit id -> external id of one kind (for not echoing a TAK user's own position back)."""
        return {unit: ext for ext, unit in self.units.get(kind, {}).items()}


def parse_mapping(text: str, source: str = "interop.yaml") -> Mapping:
    """Read a mapping file's text; every problem is reported at once with its line and field."""
    located = load_located(text, source)
    reader = FieldReader(located)
    top = reader.mapping(
        (), frozenset({"party", "acknowledge", "propose_zones", "auto_create", *IdKind}), frozenset({"party"})
    )
    party_id = reader.ident(("party",)) if "party" in top else None
    units: dict[IdKind, dict[str, str]] = {}
    for kind in IdKind:
        if kind.value not in top:
            continue
        raw = top[kind.value]
        if not isinstance(raw, dict):
            reader.problem((kind.value,), "must be a mapping of external id -> unit id")
            continue
        table: dict[str, str] = {}
        for key in raw:
            canon = normal_id(kind, str(key))
            if canon is None:
                reader.problem((kind.value, key), f"{key!r} is not {_WHAT[kind]}")
                continue
            unit_id = reader.ident((kind.value, key))
            if unit_id is None:
                continue
            if canon in table:
                reader.problem((kind.value, key), f"{canon} is mapped twice")
                continue
            table[canon] = unit_id
        units[kind] = table
    acknowledgers: set[str] = set()
    if "acknowledge" in top:
        for index, raw in enumerate(reader.sequence(("acknowledge",))):
            uid = normal_id(IdKind.COT, str(raw)) if isinstance(raw, str) else None
            if uid is None:
                reader.problem(("acknowledge", index), f"{raw!r} is not {_WHAT[IdKind.COT]}")
            else:
                acknowledgers.add(uid)
    if not any(units.values()) and not reader.problems and "auto_create" not in top:
        reader.problem((), "maps no id: give at least one of cot, icao, mmsi")
    propose_zones = reader.boolean(("propose_zones",), False)
    auto_create_force = None
    if "auto_create" in top:
        reader.mapping(("auto_create",), frozenset({"force"}), frozenset({"force"}))
        auto_create_force = reader.ident(("auto_create", "force"))
    if reader.problems:
        raise ValidationError(reader.problems)
    assert party_id is not None
    return Mapping(
        party_id=party_id,
        units=units,
        acknowledgers=frozenset(acknowledgers),
        propose_zones=propose_zones,
        auto_create_force=auto_create_force,
    )


def load_mapping(path: FilePath) -> Mapping:
    """Read and check a mapping file."""
    text = read_utf8(path, "the mapping file")
    return parse_mapping(text, str(path))
