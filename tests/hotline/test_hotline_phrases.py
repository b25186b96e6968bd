"""The standard phrase catalogue: packaged in English and Russian, extensible per deployment."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from keepclear.cli.main import cli
from keepclear.domain.hotline import PhraseUse
from keepclear.errors import KeepclearError
from keepclear.services.hotline.phrases import load_catalogue


def test_every_packaged_phrase_reads_in_english_and_russian_with_the_same_parameters() -> None:
    catalogue = load_catalogue()
    assert len(catalogue) >= 25
    for code in catalogue.codes():
        phrase = catalogue.get(code)
        assert set(phrase.text) >= {"en", "ru"}, code
        params = {name: f"<{name}>" for name in phrase.parameters}
        english = catalogue.render(PhraseUse(code, params), "en")
        russian = catalogue.render(PhraseUse(code, params), "ru")
        assert english != russian, code
        for value in params.values():
            assert value in english and value in russian, code
        assert "{" not in english + russian, code


def test_the_incsea_style_core_is_there() -> None:
    catalogue = load_catalogue()
    airops = PhraseUse("AIROPS", {"area": "Raqqa-North", "start": "1200Z", "end": "1400Z"})
    assert catalogue.render(airops, "en") == "I am conducting an air operation in area Raqqa-North from 1200Z to 1400Z."
    assert catalogue.render(airops, "ru") == "Провожу воздушную операцию в районе Raqqa-North с 1200Z до 1400Z."
    assert catalogue.get("UNABLE").parameters == ("ref", "reason")
    assert {"ALTCRS", "MYINTENT", "ACK", "UNABLE", "KEEPOUT"} <= set(catalogue.codes())


def test_a_phrase_use_names_each_missing_or_unknown_parameter() -> None:
    catalogue = load_catalogue()
    assert catalogue.use_problems(PhraseUse("ALTCRS", {"unit": "", "speed": "3"})) == [
        "phrase.params.unit: missing (phrase ALTCRS needs unit, course_deg)",
        "phrase.params.course_deg: missing (phrase ALTCRS needs unit, course_deg)",
        "phrase.params.speed: phrase ALTCRS has no such parameter",
    ]
    assert catalogue.use_problems(PhraseUse("COMMCHECK")) == []


def test_a_deployment_file_adds_and_rewords_phrases(tmp_path: Path) -> None:
    extra = tmp_path / "phrases.yaml"
    extra.write_text(
        "CONVOY:\n  meaning: An aid convoy moves.\n  expected_response: ACK\n  parameters: [route]\n"
        "  text: {en: 'Aid convoy on {route}.', ru: 'Гуманитарный конвой на {route}.', ar: 'قافلة مساعدات على {route}.'}\n"
        "COMMCHECK:\n  meaning: Radio check.\n  expected_response: ACK\n  text: {en: 'Radio check.'}\n",
        encoding="utf-8",
    )
    catalogue = load_catalogue([extra])
    assert catalogue.render(PhraseUse("CONVOY", {"route": "M5"}), "ar") == "قافلة مساعدات على M5."
    assert catalogue.render(PhraseUse("COMMCHECK"), "ru") == "Radio check."  # reworded, English only now
    assert "ACK" in catalogue


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("bad code:\n  meaning: x\n", "bad code: code must be"),
        (
            "XY:\n  meaning: m\n  expected_response: r\n  parameters: [a]\n  text: {en: 'no placeholder'}\n",
            "placeholders",
        ),
        ("XY:\n  meaning: m\n  expected_response: r\n  text: {ru: 'только русский'}\n", "with English"),
        ("XY: [unclosed\n", "not valid YAML"),
    ],
)
def test_a_wrong_deployment_file_is_refused_naming_file_and_phrase(tmp_path: Path, text: str, match: str) -> None:
    extra = tmp_path / "mine.yaml"
    extra.write_text(text, encoding="utf-8")
    with pytest.raises(KeepclearError, match=match) as info:
        load_catalogue([extra])
    assert str(extra) in str(info.value)


def test_cli_lists_phrases_in_russian() -> None:
    result = CliRunner().invoke(cli, ["phrases", "list", "--language", "ru"])
    assert result.exit_code == 0, result.output
    line = next(x for x in result.output.splitlines() if x.startswith("COMMCHECK"))
    assert line == "COMMCHECK\t-\tПроверка связи. Как слышите?\t→ ACK"
