"""The roles table of docs/need-to-know.md is ``policy.ALLOWED``: every action in one row, with exactly
the roles the policy lets take it, so the written policy and the code cannot drift apart."""

from __future__ import annotations

import re
from pathlib import Path

from keepclear.domain.identity import Role
from keepclear.services.policy import ALLOWED, Action

DOC = Path(__file__).resolve().parents[2] / "docs" / "need-to-know.md"


def documented_roles() -> dict[str, frozenset[str]]:
    """action -> roles, from the rows of the roles table (``| `a`, `b` | admin, liaison |``)."""
    rows: dict[str, frozenset[str]] = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\|((?:\s*`[a-z.]+`,?)+)\s*\|\s*([a-z, ]+)\s*\|$", line)
        if match:
            roles = frozenset(r.strip() for r in match.group(2).split(","))
            for action in re.findall(r"`([a-z.]+)`", match.group(1)):
                assert action not in rows, f"{action} is in two rows of {DOC.name}"
                rows[action] = roles
    return rows


def test_every_action_is_documented_with_exactly_its_roles() -> None:
    rows = documented_roles()
    assert set(rows) == {a.value for a in Action}, (
        f"actions documented vs in policy: {sorted(set(rows) ^ {a.value for a in Action})}"
    )
    for action, roles in ALLOWED.items():
        assert rows[action.value] == {r.value for r in roles}, f"{action.value}: doc {sorted(rows[action.value])}"


def test_the_roles_named_are_the_roles_there_are() -> None:
    named = frozenset().union(*documented_roles().values())
    assert named == {r.value for r in Role}
