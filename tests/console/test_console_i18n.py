"""The console's language files: every language has every string, and every string the code asks
for exists (a missing word fails here, not in front of a duty officer)."""

from __future__ import annotations

import json
import re

import pytest

from keepclear.console.router import static_root
from keepclear.detect.strategic import ConflictKind
from keepclear.domain.activities import ActivityKind, ActivityStatus, Priority
from keepclear.domain.hotline import MessageKind
from keepclear.domain.identity import Role
from keepclear.domain.incidents import IncidentKind, ReviewStatus
from keepclear.domain.zones import ZoneKind

STATIC = static_root()
LANGUAGES = sorted(p.stem for p in (STATIC / "i18n").glob("*.json"))
#: Every key a language file holds starts with one of these sections.
SECTIONS = (
    "language", "live", "topbar", "time", "map", "tabs", "signin", "common", "units", "alerts", "activities",
    "hotline", "record", "system", "role", "level", "alert_status", "ack_state", "response", "activity_kind",
    "activity_status", "priority", "conflict_kind", "domain", "unit_kind", "incident_kind", "review",
    "message_kind", "zone_kind", "event", "place", "proposals", "proposal_state",
)  # fmt: skip


def strings(language: str) -> dict[str, str]:
    return dict(json.loads((STATIC / "i18n" / f"{language}.json").read_text(encoding="utf-8")))


def code_text() -> str:
    return "\n".join(p.read_text() for p in sorted((STATIC / "js").glob("*.js"))) + (STATIC / "index.html").read_text()


def test_english_and_russian_are_there():
    assert {"en", "ru"} <= set(LANGUAGES)


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_language_has_exactly_the_english_keys_with_the_same_parameters(language: str):
    english, other = strings("en"), strings(language)
    assert sorted(set(english) - set(other)) == [], f"{language} lacks these"
    assert sorted(set(other) - set(english)) == [], f"{language} has keys English does not"
    for key, text in english.items():
        assert other[key].strip(), (language, key)
        assert set(re.findall(r"\{(\w+)\}", other[key])) == set(re.findall(r"\{(\w+)\}", text)), (language, key)


def test_every_key_the_code_uses_is_in_the_language_files():
    known = set(strings("en"))
    text = code_text()
    section = "|".join(SECTIONS)
    used = set(re.findall(rf'"((?:{section})\.[a-z_]+(?:\.[a-z_-]+)?)"', text))
    page = (STATIC / "index.html").read_text()
    used |= set(re.findall(r'data-i18n="([^"]+)"', page))
    for pairs in re.findall(r'data-i18n-attr="([^"]+)"', page):
        used |= {pair.split(":")[1] for pair in pairs.split(";")}
    assert len(used) > 150, "the scan finds the keys"
    assert sorted(used - known) == []


def test_every_value_the_server_sends_has_its_words():
    known = set(strings("en"))
    enums = {
        "activity_kind": ActivityKind, "activity_status": ActivityStatus, "priority": Priority,
        "conflict_kind": ConflictKind, "message_kind": MessageKind, "incident_kind": IncidentKind,
        "review": ReviewStatus, "zone_kind": ZoneKind, "role": Role,
    }  # fmt: skip
    wanted = {f"{prefix}.{member.value}" for prefix, enum in enums.items() for member in enum}
    wanted |= {f"level.{lv}" for lv in ("advisory", "caution", "warning")}
    wanted |= {f"alert_status.{s}" for s in ("raised", "acknowledged", "resolved")}
    wanted |= {f"ack_state.{s}" for s in ("pending", "acknowledged", "objected")}
    wanted |= {f"live.{s}" for s in ("live", "connecting", "down", "none")}
    wanted |= {f"proposal_state.{s}" for s in ("pending", "accepted", "refused")}
    wanted |= {f"system.alert.{k}" for k in ("raised", "level_changed", "resolved", "separation_lost", "acknowledged")}
    assert sorted(wanted - known) == []


def test_no_interface_text_is_left_in_the_code():
    """Text shown to people goes through t(): no capitalised English words as literal children."""
    for path in sorted((STATIC / "js").glob("*.js")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if line.lstrip().startswith(("//", "*", "/*")):
                continue
            for literal in re.findall(r'h\("(?!code)[^"]*", \{[^}]*\}, "([^"]+)"', line):
                assert not re.search(r"[A-Za-z]{3}", literal), f"{path.name}:{number}: {literal!r}"


def test_every_basemap_name_has_its_words():
    """Place and country names on the basemap are worded in each language ("place.<English name>")."""
    known = set(strings("en"))
    names = set()
    for layer in ("places", "country-labels"):
        document = json.loads((STATIC / "basemap" / f"{layer}.geojson").read_text(encoding="utf-8"))
        names |= {f["properties"]["name"] for f in document["features"]}
    assert len(names) > 60
    assert sorted(f"place.{n}" for n in names if f"place.{n}" not in known) == []
