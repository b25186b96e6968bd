"""Reading a scenario's parties (with their language, role and roster) and forces (each of one
party, a partner force or not) out of the located YAML; every problem noted with its line."""

from __future__ import annotations

from keepclear.domain import Contact, Force, Party
from keepclear.domain.parties import force_problems, party_problems
from keepclear.scenario.fields import FieldReader
from keepclear.scenario.located import Path
from keepclear.scenario.model import PartyRole, PartySpec

_PARTY = frozenset({"id", "name", "language", "role", "roster"})
_FORCE = frozenset({"id", "name", "party", "partner"})


def read_parties(r: FieldReader) -> list[PartySpec]:
    """The ``parties`` of the scenario (each with its roster and role)."""
    out: list[PartySpec] = []
    for i, _ in enumerate(r.sequence(("parties",))):
        p: Path = ("parties", i)
        r.mapping(p, _PARTY, frozenset({"id", "name"}))
        pid, name = r.ident((*p, "id")), r.text((*p, "name"))
        language = r.text((*p, "language"), required=False, default="en")
        role_text = r.get((*p, "role")) or "party"
        try:
            role = PartyRole(role_text)
        except ValueError:
            r.problem((*p, "role"), f"unknown role {role_text!r} (known: party, observer)")
            role = PartyRole.PARTY
        roster: list[Contact] = []
        for j, _ in enumerate(r.sequence((*p, "roster"), required=False)):
            r.mapping((*p, "roster", j), frozenset({"name", "role"}), frozenset({"name"}))
            cname = r.text((*p, "roster", j, "name"))
            crole = r.text((*p, "roster", j, "role"), required=False)
            if cname:
                roster.append(Contact(cname, crole or ""))
        if pid and name and language:
            party = Party(pid, name, language)
            r.rule_problems(p, party_problems(party))  # its name; the roster is judged when installed
            out.append(PartySpec(party, tuple(roster), role))
    return out


def read_forces(r: FieldReader, party_ids: set[str]) -> list[Force]:
    """The ``forces``, each of one of ``party_ids``."""
    out: list[Force] = []
    for i, _ in enumerate(r.sequence(("forces",))):
        p: Path = ("forces", i)
        r.mapping(p, _FORCE, frozenset({"id", "name", "party"}))
        fid, name, party = r.ident((*p, "id")), r.text((*p, "name")), r.ident((*p, "party"))
        if party and party not in party_ids:
            r.problem((*p, "party"), f"no party {party!r} (parties: {', '.join(sorted(party_ids))})")
            party = None
        partner = r.boolean((*p, "partner"), False)
        if fid and name and party:
            force = Force(fid, name, party, partner)
            r.rule_problems(p, force_problems(force))
            out.append(force)
    return out
