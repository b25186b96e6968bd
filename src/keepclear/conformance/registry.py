"""The check registry: every group module lists its checks; a check yields one result per thing it judged.

A check is a function of the run's ``World`` that yields ``Result`` objects, so one function can judge
every path of the served OpenAPI, or every bad body of every write route, each as its own named line.
Names are stable (``group.check:detail``): a known-failures list refers to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from keepclear.conformance.world import World


@dataclass(frozen=True)
class Result:
    """One judged thing: its name, whether it held, and exactly what was wrong when not."""

    name: str
    passed: bool
    reason: str = ""


CheckFn = Callable[["World"], Iterable[Result]]


@dataclass(frozen=True)
class Check:
    group: str
    name: str
    run: CheckFn

    @property
    def prefix(self) -> str:
        """What the names of its results start with."""
        return f"{self.group}.{self.name}" if self.name else self.group


def passed(name: str, reason: str = "") -> Result:
    return Result(name, True, reason)


def failed(name: str, reason: str) -> Result:
    return Result(name, False, reason)


def judge(name: str, problems: list[str], ok_reason: str = "") -> Result:
    """PASS when ``problems`` is empty, else FAIL with the first few problems (and how many more)."""
    if not problems:
        return passed(name, ok_reason)
    shown = "; ".join(problems[:3])
    more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
    return failed(name, shown + more)


def all_checks() -> list[Check]:
    """Every check, group by group, in the order they run: the reads follow the naming requests and the
    lifecycles (they see what those may have caused to be shown), and bad input comes last (a bad body
    wrongly stored can make later reads fail, which would hide what they show)."""
    from keepclear.conformance import bad_input, lifecycles, need_to_know, need_to_know_reads

    return [*need_to_know.NAMING, *lifecycles.CHECKS, *need_to_know_reads.READING, *bad_input.CHECKS]
