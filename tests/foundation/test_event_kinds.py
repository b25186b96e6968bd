"""Event kinds are named in one place: ``EventKind``; nowhere else in src is a kind written as text."""

from __future__ import annotations

import re
from pathlib import Path

from keepclear.domain.event_kinds import ACTIVITY_KINDS, ALERT_KINDS, ZONE_KINDS, EventKind

SRC = Path(__file__).resolve().parents[2] / "src" / "keepclear"
ENUM_MODULE = SRC / "domain" / "event_kinds.py"
#: Frozen history: migrations keep whatever text they were written with.
FROZEN = SRC / "store" / "migrations"
#: A kind's value in quotes, as a Python string literal would hold it.
QUOTED_KIND = re.compile(r"""["'](""" + "|".join(re.escape(k.value) for k in EventKind) + r""")["']""")
#: ``"activity." + word`` or ``f"activity.{word}"``: a kind built from text.
BUILT_KIND = re.compile(r"""f?["'](""" + "|".join({re.escape(k.family) for k in EventKind}) + r""")\.(\{|["'])""")


def _python_files() -> list[Path]:
    return [p for p in SRC.rglob("*.py") if p != ENUM_MODULE and FROZEN not in p.parents]


def test_no_event_kind_is_written_as_text_outside_the_enum() -> None:
    found = []
    for path in _python_files():
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if QUOTED_KIND.search(line) or BUILT_KIND.search(line):
                found.append(f"{path.relative_to(SRC)}:{number}: {line.strip()}")
    assert not found, "name event kinds by EventKind member:\n" + "\n".join(found)


def test_the_check_sees_a_quoted_kind_and_a_kind_built_from_text() -> None:
    assert QUOTED_KIND.search("""if event.kind == "alert.raised":""")
    assert QUOTED_KIND.search("""kinds = {'zones.imported'}""")
    assert BUILT_KIND.search("""kind=f"activity.{state}",""")
    assert not QUOTED_KIND.search("""logging.getLogger("keepclear.record")""")


def test_kind_values_are_unique_dotted_lower_case_names() -> None:
    values = [k.value for k in EventKind]
    assert len(values) == len(set(values))
    for value in values:
        assert re.fullmatch(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+", value), value


def test_every_kind_says_what_it_means_in_the_enum_module() -> None:
    text = ENUM_MODULE.read_text()
    for kind in EventKind:
        before = text.split(f"    {kind.name} = ", 1)[0].rstrip().splitlines()[-1].strip()
        assert before.startswith("#:"), f"{kind.name} has no comment saying what it means"


def test_families_and_words_split_a_kind_at_its_first_dot() -> None:
    assert EventKind.ALERT_RAISED.family == "alert"
    assert EventKind.ACTIVITY_LATE_NOTICE.action == "late_notice"
    assert EventKind.ALERT_RECORD_INCONSISTENT in ALERT_KINDS
    assert EventKind.ZONES_IMPORTED not in ZONE_KINDS
    assert EventKind.ACTIVITY_OBJECTED in ACTIVITY_KINDS


def test_a_kind_is_its_text_wherever_text_is_expected() -> None:
    import json

    assert EventKind.ALERT_RAISED == "alert.raised"
    assert json.dumps({"kind": EventKind.ALERT_RAISED}) == '{"kind": "alert.raised"}'
    assert f"{EventKind.ALERT_RAISED}" == "alert.raised"
    assert {"alert.raised": 1}[EventKind.ALERT_RAISED] == 1
