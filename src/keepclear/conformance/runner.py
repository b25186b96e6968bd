"""Run the suite: build the run's world, run every check, put the deployment back, report.

Each result is PASS or FAIL; a check named in the known failures is XFAIL when it fails (counted as
expected) and XPASS when it passes, which fails the run until the entry is removed (a fixed hole must
not stay listed, or a regression would pass unseen).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import httpx

from keepclear.conformance.client import Api
from keepclear.conformance.keys import KeysFile
from keepclear.conformance.registry import Result, all_checks
from keepclear.conformance.world import SetupError, build, new_world, tear_down
from keepclear.errors import ValidationError

#: A remote place over open sea (South Pacific) where the run's aircraft cannot meet anyone's real units.
DEFAULT_PLACE_DEG = (-48.0, -128.0)


@dataclass(frozen=True)
class Outcome:
    name: str
    status: str  # PASS, FAIL, XFAIL, XPASS
    reason: str
    expected: str | None = None  # why it is listed as a known failure

    @property
    def ok(self) -> bool:
        return self.status in ("PASS", "XFAIL")


@dataclass
class Report:
    url: str
    run_id: str
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0

    @property
    def ok(self) -> bool:
        return bool(self.outcomes) and all(o.ok for o in self.outcomes)

    def counts(self) -> dict[str, int]:
        out = {"PASS": 0, "FAIL": 0, "XFAIL": 0, "XPASS": 0}
        for o in self.outcomes:
            out[o.status] += 1
        return out

    def summary(self) -> str:
        c = self.counts()
        verdict = "conformant" if self.ok else "NOT conformant"
        return (
            f"{verdict}: {c['PASS']} passed, {c['FAIL']} failed, {c['XFAIL']} known failures, "
            f"{c['XPASS']} known failures that now pass; run {self.run_id} on {self.url} in {self.duration_s:.1f} s"
        )

    def lines(self) -> list[str]:
        out = []
        for o in self.outcomes:
            why = o.reason + (f" [known: {o.expected}]" if o.expected else "")
            out.append(f"{o.status:5} {o.name}" + (f" — {why}" if why else ""))
        return [*out, *[f"note: {n}" for n in self.notes], self.summary()]

    def to_json(self) -> str:
        return json.dumps(
            {
                "url": self.url,
                "run_id": self.run_id,
                "ok": self.ok,
                "counts": self.counts(),
                "duration_s": round(self.duration_s, 3),
                "checks": [asdict(o) for o in self.outcomes],
                "notes": self.notes,
            },
            indent=2,
            ensure_ascii=False,
        )


def load_known_failures(path: Path) -> dict[str, str]:
    """A known-failures file: one check name a line, ``# reason`` after it; blank lines and comments skipped."""
    known: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        name, _, reason = line.partition("#")
        if not name.strip():
            continue
        if not reason.strip():
            raise ValidationError([f"{path}:{number}: {name.strip()!r} needs a reason after '#'"])
        known[name.strip()] = reason.strip()
    return known


def _outcome(result: Result, known: dict[str, str]) -> Outcome:
    expected = known.get(result.name)
    if expected is None:
        return Outcome(result.name, "PASS" if result.passed else "FAIL", result.reason)
    if result.passed:
        return Outcome(result.name, "XPASS", "listed as a known failure but passes: remove it from the list", expected)
    return Outcome(result.name, "XFAIL", result.reason, expected)


def run_suite(
    url: str,
    keys: KeysFile,
    *,
    known: dict[str, str] | None = None,
    only: list[str] | None = None,
    place_deg: tuple[float, float] = DEFAULT_PLACE_DEG,
    on_outcome: Callable[[Outcome], None] | None = None,
) -> Report:
    """Run every check (or those whose name starts with one of ``only``) against ``url``."""
    known = known or {}
    started = time.monotonic()
    api = Api(url, keys)
    world = new_world(api, *place_deg)
    report = Report(url, world.run_id)

    def add(result: Result) -> None:
        if only and not any(result.name.startswith(prefix) for prefix in only):
            return
        outcome = _outcome(result, known)
        report.outcomes.append(outcome)
        if on_outcome:
            on_outcome(outcome)

    try:
        try:
            build(world)
        except SetupError as exc:
            add(Result("setup", False, str(exc)))
            return report
        except httpx.HTTPError as exc:
            add(Result("setup", False, f"{url} cannot be used: {type(exc).__name__}: {exc}"))
            return report
        for check in all_checks():
            prefix = check.prefix
            if only and not any(p.startswith(prefix) or prefix.startswith(p) for p in only):
                continue
            try:
                for result in check.run(world):
                    add(result)
            except Exception as exc:  # a check that breaks is a failure of its own, the others still run
                add(Result(check.prefix, False, f"the check failed: {type(exc).__name__}: {exc}"))
    finally:
        try:
            report.notes += tear_down(world)
        except Exception as exc:  # said, not hidden: the operator may have to clean up by hand
            report.notes.append(f"clean-up failed: {type(exc).__name__}: {exc}")
        api.close()
        report.duration_s = time.monotonic() - started
    stale = sorted(set(known) - {o.name for o in report.outcomes})
    report.notes += [f"known failure {name!r} names no check of this run" for name in stale if not only]
    return report
