"""The incident report in the reader's language: every word of it in every language file (a missing
string fails here), a Russian report with no English left, and the language chosen by ``?lang=``, the
reader's party or Accept-Language."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from keepclear.domain.incidents import Account, Incident, IncidentKind, ReviewStatus, TimelineItem
from keepclear.services.reports import incident as incident_module
from keepclear.services.reports.incident import incident_html
from keepclear.services.reports.words import Words, choose_language, languages

FOLDER = Path(incident_module.__file__).resolve().parent / "i18n"
EN = json.loads((FOLDER / "en.json").read_text(encoding="utf-8"))
SOURCE = Path(incident_module.__file__).read_text(encoding="utf-8")


def placeholders(text: str) -> set[str]:
    return set(re.findall(r"\{(\w+)\}", text))


def used_keys() -> set[str]:
    """Every key the report asks for: written out in full, or a prefix and every value of its kind."""
    keys = set(re.findall(r'w\.text\(\s*"([\w.\-]+)"', SOURCE))
    keys |= {f"incident_kind.{k.value}" for k in IncidentKind} | {f"review.{s.value}" for s in ReviewStatus}
    keys |= {"map.missing_figures", "map.none_in_window", "map.none_yet", "map.longitude", "map.latitude", "map.title"}
    return keys


def test_english_and_russian_are_there_and_adding_a_language_is_a_file() -> None:
    assert {"en", "ru"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_every_language_file_has_every_word_of_the_report(language: str) -> None:
    table = json.loads((FOLDER / f"{language}.json").read_text(encoding="utf-8"))
    missing = sorted(used_keys() - set(table))
    assert not missing, f"{language}.json lacks {missing}"
    assert set(table) == set(EN), f"{language}.json differs from en.json in {sorted(set(table) ^ set(EN))}"
    for key, text in table.items():
        assert isinstance(text, str) and text.strip(), f"{language}.json {key}: empty"
        assert placeholders(text) == placeholders(EN[key]), f"{language}.json {key}: placeholders differ from en"


def report(language: str) -> str:
    incident = Incident(
        "inc-7", IncidentKind.SEPARATION_LOST, ReviewStatus.UNDER_REVIEW, 1_500_000_000.0, 1_500_000_060.0, None,
        ("coalition", "russia"), ("u1", "u2"), ("al1",), None, None, "ALPHA1 and BRAVO1 passed close",
    )  # fmt: skip
    accounts = [
        Account("inc-7", 1, "russia", 1_500_000_100.0, "We kept our altitude.", None),
        Account("inc-7", 2, "russia", 1_500_000_200.0, "We kept our altitude (FL200).", 1),
    ]
    timeline = [
        TimelineItem("inc-7", 1, 1_500_000_000.0, "alert.raised", None, {"alert_id": "al1"}),
        TimelineItem("inc-7", 2, 1_500_000_060.0, "incident.opened", None, {}),
        TimelineItem("inc-7", 3, 1_500_000_100.0, "incident.account_added", "russia", {"position": 1}),
    ]
    return incident_html(incident, accounts, timeline, None, generated_s=1_500_000_300.0, language=language)


def test_the_russian_report_has_no_english_word_left() -> None:
    ru = json.loads((FOLDER / "ru.json").read_text(encoding="utf-8"))
    text = report("ru")
    assert '<html lang="ru">' in text
    for key in ("section.map", "section.timeline", "section.accounts", "incident_kind.separation-lost",
                "review.under-review", "event.alert.raised", "map.none_yet"):  # fmt: skip
        assert ru[key] in text, key
    left = [EN[k] for k in EN if " " in EN[k] and "{" not in EN[k] and EN[k] != ru[k] and EN[k] in text]
    assert not left, left
    for word in ("Timeline", "Accounts", "review status", "Generated", "incident opened", "amends"):
        assert word not in text, word
    assert "исправляет №1" in text and "<code>keepclear ledger verify</code>" in text


def test_the_english_report_reads_english() -> None:
    text = report("en")
    assert '<html lang="en">' in text and "<h2>Timeline</h2>" in text and "separation lost" in text
    assert "Хронология" not in text


def test_the_language_is_asked_for_else_the_partys_else_accept_language() -> None:
    assert choose_language("ru", "en", "en") == "ru"
    assert choose_language(None, "ru", "en-GB,en;q=0.8") == "ru"
    assert choose_language(None, None, "ru-RU,ru;q=0.9,en;q=0.8") == "ru"
    assert choose_language(None, None, "de-DE,en;q=0.5,ru;q=0.3") == "en"  # the first keepclear writes
    assert choose_language(None, None, None) == "en"
    assert choose_language("xx", None, "ru") == "en"  # a language without words: English
    assert Words.load("ru-RU").language == "ru"
