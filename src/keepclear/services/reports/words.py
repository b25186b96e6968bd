"""The words of the reports in each reader's language: one JSON file per language in ``i18n/``
(``en.json`` is complete and the fallback; adding a language is adding a file).

Keys are written out in full where they are used, so a test can find them all; ``{name}`` in a
text is filled from the parameters.

>>> Words.load("ru").text("section.map")
'Карта'
>>> Words.load("xx").language  # a language without a file reads English
'en'
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

#: A language tag as the files are named (``en``, ``ru``, ``pt-BR``).
_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})*")


def _table(language: str) -> dict[str, str]:
    """The words of ``language``, or none when it has no file. Only the languages with a file are
    read and kept: a tag a reader sends (``?lang=``, Accept-Language) is never a key of a cache, or
    made-up tags would grow it without end."""
    return _file_table(language) if language in _with_files() else {}


@cache
def _with_files() -> frozenset[str]:
    return frozenset(tag for tag in languages() if _TAG.fullmatch(tag))


@cache
def _file_table(language: str) -> dict[str, str]:
    path = resources.files("keepclear.services.reports") / "i18n" / f"{language}.json"
    table: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return table


def languages() -> list[str]:
    """The languages the reports are written in (one file each)."""
    folder = resources.files("keepclear.services.reports") / "i18n"
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))


@dataclass(frozen=True)
class Words:
    """The report texts of one language, English for any key it lacks."""

    language: str
    table: dict[str, str]
    fallback: dict[str, str]

    @classmethod
    def load(cls, language: str) -> Words:
        """The words of ``language`` (its base language, ``pt`` for ``pt-BR``, when only that has a
        file; English when neither has)."""
        for tag in (language, language.split("-")[0]):
            if _table(tag):
                return cls(tag, _table(tag), _table("en"))
        return cls("en", _table("en"), _table("en"))

    def text(self, key: str, **params: Any) -> str:
        """The text of ``key`` with ``{name}`` parameters filled in (the key itself when no file has it)."""
        template = self.table.get(key) or self.fallback.get(key)
        if template is None:
            return key
        return re.sub(r"\{(\w+)\}", lambda m: str(params.get(m.group(1), m.group(0))), template)

    def value(self, prefix: str, value: str) -> str:
        """The words for a value the record holds (a kind, a status): ``prefix.value``'s text, or the
        value itself when no file names it (a value a newer version added)."""
        key = f"{prefix}.{value}"
        return self.text(key) if key in self.table or key in self.fallback else value


def choose_language(asked: str | None, party_language: str | None, accept_language: str | None) -> str:
    """The language of a report: the one asked for (``?lang=``), else the reader's party's, else the
    first of Accept-Language that has words, else English."""
    if asked:
        return Words.load(asked.strip()).language
    if party_language:
        return Words.load(party_language).language
    for part in (accept_language or "").split(","):  # in the order given (weights aside)
        tag = part.split(";")[0].strip()
        if not tag or tag == "*":
            continue
        words = Words.load(tag)
        if words.language != "en" or tag.lower().split("-")[0] == "en":
            return words.language
    return "en"
