"""Whom a report may involve (``policy.involvement_problems``), over generated worlds of units,
alerts, intruders in zones and threads: what the reporter knows another party may see is never more
than what that party really may name, and the answer does not depend on what the reporter cannot see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from keepclear.domain.zones import ZoneRules
from keepclear.services.policy import (
    Sight,
    alert_visible,
    intruder_audience,
    involvement_problems,
    party_sight,
    unit_state_visible,
    zone_witnesses,
)

PARTIES = ("a", "b", "c", "d")


@dataclass(frozen=True)
class World:
    """Units by owner, alerts between units of two parties (active or resolved), the zones each unit
    is inside now, and threads with their members and last message."""

    owners: dict[str, str]
    alerts: list[dict[str, Any]]
    active: frozenset[str]
    inside: dict[str, list[ZoneRules]]
    threads: list[tuple[str, frozenset[str], int]]

    def sight(self, party: str) -> Sight:
        """``party``'s real sight, gathered as the incident route and the tactical service do."""
        own = [u for u, owner in self.owners.items() if owner == party]
        in_alerts = {
            unit
            for a in self.alerts
            if a["alert_id"] in self.active and alert_visible(party, a["party_a"], a["party_b"])
            for unit in (a["unit_a"], a["unit_b"])
        }
        now = {
            unit: owner
            for unit, owner in self.owners.items()
            if unit_state_visible(
                party,
                owner,
                in_own_alert=unit in in_alerts,
                intruder_for=(w for rules in self.inside.get(unit, ()) for w in zone_witnesses(rules, owner)),
            )
        }
        intruders = {unit: intruder_audience(party, self.owners[unit], zones) for unit, zones in self.inside.items()}
        threads = [t for t in self.threads if party in t[1]]
        return party_sight(party, own, self.alerts, now, {u: w for u, w in intruders.items() if w}, threads)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    owners = {f"u{i}": draw(st.sampled_from(PARTIES)) for i in range(draw(st.integers(2, 6)))}
    units = sorted(owners)
    pairs = [(x, y) for x in units for y in units if x < y and owners[x] != owners[y]]
    chosen = draw(st.lists(st.sampled_from(pairs), max_size=3, unique=True)) if pairs else []
    alerts = [
        {"alert_id": f"alert-{k}", "unit_a": x, "unit_b": y, "party_a": owners[x], "party_b": owners[y]}
        for k, (x, y) in enumerate(chosen)
    ]
    active = frozenset(a["alert_id"] for a in alerts if draw(st.booleans()))
    rules = st.builds(ZoneRules, st.one_of(st.none(), st.frozensets(st.sampled_from(PARTIES), min_size=1)))
    inside = {u: draw(st.lists(rules, max_size=3)) for u in units if draw(st.booleans())}
    members = st.frozensets(st.sampled_from(PARTIES), min_size=2)
    threads = [(f"t-{k}", m, draw(st.integers(1, 3))) for k, m in enumerate(draw(st.lists(members, max_size=2)))]
    return World(owners, alerts, active, inside, threads)


def nameable(world: World, sight: Sight) -> dict[str, list[str]]:
    """Everything ``sight`` may name in ``world``, by kind."""
    return {
        "unit": sorted(sight.units),
        "alert": sorted(sight.alerts),
        "message": [f"{t}#{seq}" for t, _, last in world.threads if t in sight.last_seqs for seq in (1, last)],
    }


@settings(max_examples=300, deadline=None)
@given(worlds(), st.sampled_from(PARTIES))
def test_a_party_the_reporter_may_show_an_item_really_may_see_it(world: World, reporter: str) -> None:
    """Derivable sight is within real sight: wherever the reporter's sight shows a party an item it
    names (its own units aside: they are its to share), that party's own sight may name it too."""
    mine = world.sight(reporter)
    for kind, idents in nameable(world, mine).items():
        assert not mine.problems({kind: idents})
        for ident in idents:
            if kind == "unit" and ident in mine.own:
                continue
            for party in PARTIES:
                if mine.shows(party, kind, ident):
                    assert not world.sight(party).problems({kind: [ident]}), (party, kind, ident)


@settings(max_examples=300, deadline=None)
@given(worlds(), st.sampled_from(PARTIES))
def test_whom_a_report_may_involve_does_not_depend_on_what_the_reporter_cannot_see(world: World, reporter: str) -> None:
    """The same world with every alert the reporter may not see removed (what another pair of
    parties had with each other), every zone a unit is inside that the reporter does not witness it
    in, and every thread it is not in: the same answer for every party."""
    trimmed = World(
        world.owners,
        [a for a in world.alerts if alert_visible(reporter, a["party_a"], a["party_b"])],
        world.active,
        {
            unit: [rules for rules in zones if reporter in zone_witnesses(rules, world.owners[unit])]
            for unit, zones in world.inside.items()
        },
        [t for t in world.threads if reporter in t[1]],
    )
    named = nameable(world, world.sight(reporter))
    assert named == nameable(trimmed, trimmed.sight(reporter))
    assert involvement_problems(reporter, PARTIES, named, world.sight(reporter)) == involvement_problems(
        reporter, PARTIES, named, trimmed.sight(reporter)
    )
