"""What of the live picture a party may see (need to know, ``services.policy``): its own units in
full, another party's unit only while an alert involves one of its own with it or while it is an
intruder in a zone the party is permitted in (``UnitState``); and who else it knows sees such an
intruder. Computed from a snapshot the tactical service takes under its lock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from keepclear.detect.states import TrackStates
from keepclear.domain.zones import ZoneRules
from keepclear.services.policy import alert_visible, intruder_audience, unit_state_visible, zone_witnesses

__all__ = ["AlertPair", "UnitState", "intruders_witnessed", "visible_unit_states"]

#: The parties and units of an active alert: (party_a, party_b, unit_a, unit_b).
AlertPair = tuple[str, str, str, str]


@dataclass(frozen=True, slots=True)
class UnitState:
    """The latest state of one unit, with the party that answers for it."""

    unit_id: str
    party_id: str
    domain_code: int
    time_s: float
    lat_deg: float
    lon_deg: float
    alt_m: float
    vel_east_mps: float
    vel_north_mps: float
    vel_up_mps: float


def visible_unit_states(
    party_id: str,
    states: TrackStates,
    party_ids: Sequence[str],
    pairs: Iterable[AlertPair],
    inside: Mapping[str, Sequence[ZoneRules]],
) -> list[UnitState]:
    """The units of ``states`` ``party_id`` may see (``policy.unit_state_visible``): ``party_ids``
    names each party code, ``pairs`` are the active alerts, ``inside`` the rules of the zones each
    unit is inside."""
    in_alerts = {
        unit
        for party_a, party_b, unit_a, unit_b in pairs
        if alert_visible(party_id, party_a, party_b)
        for unit in (unit_a, unit_b)
    }
    out = []
    for row, unit_id in enumerate(states.unit_ids):
        owner = party_ids[int(states.party[row])]
        witnesses = (w for rules in inside.get(unit_id, ()) for w in zone_witnesses(rules, owner))
        if unit_state_visible(party_id, owner, in_own_alert=unit_id in in_alerts, intruder_for=witnesses):
            out.append(
                UnitState(
                    unit_id,
                    owner,
                    int(states.domain[row]),
                    float(states.time_s[row]),
                    float(states.lat_deg[row]),
                    float(states.lon_deg[row]),
                    float(states.alt_m[row]),
                    float(states.vel_east_mps[row]),
                    float(states.vel_north_mps[row]),
                    float(states.vel_up_mps[row]),
                )
            )
    return out


def intruders_witnessed(
    party_id: str, states: TrackStates, party_ids: Sequence[str], inside: Mapping[str, Sequence[ZoneRules]]
) -> dict[str, frozenset[str]]:
    """Another party's units ``party_id`` witnesses as intruders, each with who it knows sees it
    (``policy.intruder_audience``: the witnesses of the zones it witnesses it in)."""
    owners = {unit_id: party_ids[int(states.party[row])] for row, unit_id in enumerate(states.unit_ids)}
    out = {}
    for unit_id, zones in inside.items():
        audience = intruder_audience(party_id, owners[unit_id], zones) if unit_id in owners else frozenset()
        if audience:
            out[unit_id] = audience
    return out
