"""Standard phrases: coded sentences with a fixed meaning, read by each party in its own language.

In the manner of the signal tables of the 1972 INCSEA and 1989 dangerous military activities
agreements: a code (``ALTCRS``), what it means, what answer it expects, named parameters, and its
text per language with ``{parameter}`` placeholders. A message carries only the code and the
parameter values, so nothing is lost in translation between liaison cells.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from keepclear.domain.hotline import PhraseUse

_CODE_RE = re.compile(r"^[A-Z][A-Z0-9_]{1,15}$")
_PARAM_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_PLACEHOLDER_RE = re.compile(r"\{([^{}]*)\}")
MAX_PARAM_CHARS = 500


@dataclass(frozen=True, slots=True)
class Phrase:
    """One coded phrase. ``text`` maps a language (``en``, ``ru``) to its wording."""

    code: str
    meaning: str
    expected_response: str
    parameters: tuple[str, ...]
    text: Mapping[str, str]


class PhraseCatalogue:
    """The phrases of one deployment: the packaged ones, plus any the deployment adds or rewords."""

    def __init__(self, phrases: Mapping[str, Phrase]) -> None:
        self._phrases = dict(phrases)

    def __contains__(self, code: object) -> bool:
        return code in self._phrases

    def __len__(self) -> int:
        return len(self._phrases)

    def codes(self) -> list[str]:
        """Every code, sorted."""
        return sorted(self._phrases)

    def get(self, code: str) -> Phrase:
        """The phrase ``code`` (``KeyError`` when unknown; check ``use_problems`` first)."""
        return self._phrases[code]

    def merged(self, other: PhraseCatalogue) -> PhraseCatalogue:
        """This catalogue with ``other``'s phrases added, replacing those with the same code."""
        return PhraseCatalogue({**self._phrases, **other._phrases})

    def use_problems(self, use: PhraseUse, field_name: str = "phrase") -> list[str]:
        """Why ``use`` is not a valid use of a phrase: unknown code, missing or unknown parameter."""
        phrase = self._phrases.get(use.code)
        if phrase is None:
            return [f"{field_name}.code: {use.code!r} is not a standard phrase of this deployment"]
        problems = [
            f"{field_name}.params.{name}: missing (phrase {use.code} needs {', '.join(phrase.parameters)})"
            for name in phrase.parameters
            if not str(use.params.get(name, "")).strip()
        ]
        problems += [
            f"{field_name}.params.{name}: phrase {use.code} has no such parameter"
            for name in sorted(use.params)
            if name not in phrase.parameters
        ]
        problems += [
            f"{field_name}.params.{name}: longer than {MAX_PARAM_CHARS} characters"
            for name, value in sorted(use.params.items())
            if isinstance(value, str) and len(value) > MAX_PARAM_CHARS
        ]
        problems += [
            f"{field_name}.params.{name}: must be text"
            for name, value in sorted(use.params.items())
            if not isinstance(value, str)
        ]
        return problems

    def render(self, use: PhraseUse, language: str) -> str:
        """The phrase in ``language`` (English when the catalogue lacks it), parameters filled in.

        >>> cat = catalogue_from_mapping({"ACK": {"meaning": "m", "expected_response": "none",
        ...     "text": {"en": "Acknowledged {ref}", "ru": "Подтверждаю {ref}"}, "parameters": ["ref"]}}, "t")
        >>> cat.render(PhraseUse("ACK", {"ref": "#4"}), "ru")
        'Подтверждаю #4'
        """
        phrase = self._phrases[use.code]
        template = phrase.text.get(language) or phrase.text["en"]
        return _PLACEHOLDER_RE.sub(lambda m: use.params.get(m.group(1), m.group(0)), template)


def catalogue_from_mapping(document: Mapping[str, Any], source: str) -> PhraseCatalogue:
    """Build a catalogue from ``{code: {meaning, expected_response, parameters, text: {lang: ...}}}``.

    Raises ``ValueError`` listing every problem with ``source`` and the code it was found at.
    """
    problems: list[str] = []
    phrases: dict[str, Phrase] = {}
    if not isinstance(document, Mapping):
        raise ValueError(f"{source}: must be a mapping of phrase codes to phrases")
    for code, entry in document.items():
        where = f"{source}: {code}"
        if not isinstance(code, str) or not _CODE_RE.match(code):
            problems.append(f"{where}: code must be 2-16 capitals, digits or '_', starting with a capital")
            continue
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: must be a mapping")
            continue
        unknown = sorted(set(entry) - {"meaning", "expected_response", "parameters", "text"})
        if unknown:
            problems.append(f"{where}: unknown field(s) {', '.join(map(str, unknown))}")
        meaning = entry.get("meaning")
        expected = entry.get("expected_response")
        params = entry.get("parameters", [])
        text = entry.get("text")
        for name, value in (("meaning", meaning), ("expected_response", expected)):
            if not isinstance(value, str) or not value.strip():
                problems.append(f"{where}.{name}: must be non-empty text")
        if not isinstance(params, list) or not all(isinstance(p, str) and _PARAM_RE.match(p) for p in params):
            problems.append(f"{where}.parameters: must be a list of lower-case names")
            params = []
        elif len(set(params)) != len(params):
            problems.append(f"{where}.parameters: repeated name")
        if not isinstance(text, Mapping) or not isinstance(text.get("en"), str) or not text.get("en", "").strip():
            problems.append(f"{where}.text: must map languages to wording, with English (en) at least")
            continue
        for language, wording in text.items():
            if not isinstance(wording, str) or not wording.strip():
                problems.append(f"{where}.text.{language}: must be non-empty text")
                continue
            used = set(_PLACEHOLDER_RE.findall(wording))
            if used != set(params):
                problems.append(
                    f"{where}.text.{language}: placeholders {sorted(used)} differ from parameters {sorted(params)}"
                )
        phrases[code] = Phrase(
            code=code,
            meaning=str(meaning),
            expected_response=str(expected),
            parameters=tuple(params),
            text={str(k): str(v) for k, v in text.items()},
        )
    if problems:
        raise ValueError("; ".join(problems))
    return PhraseCatalogue(phrases)
