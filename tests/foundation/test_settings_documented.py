"""Every setting is documented in docs/settings.md, with its environment variable and default."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from keepclear.domain.minima import DEFAULT_MINIMA, DomainPair
from keepclear.errors import KeepclearError
from keepclear.settings import ENV_NESTED_DELIMITER, PairMinima, Settings, load_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def documented_rows() -> dict[str, list[str]]:
    """Each documented setting (dotted when nested) with its environment variable, default and text."""
    rows = {}
    for line in DOC.read_text().splitlines():
        match = re.match(r"^\|\s*`([\w.]+)`\s*\|\s*`(KEEPCLEAR_\w+)`\s*\|([^|]*)\|([^|]*)\|", line)
        if match:
            rows[match.group(1)] = [match.group(2), match.group(3).strip(), match.group(4).strip()]
    return rows


def setting_rows() -> dict[str, str]:
    """Every setting the docs must list, nested ones by their dotted name, with its environment variable."""
    rows = {}
    for name in Settings.model_fields:
        if name == "minima":
            for pair in DomainPair:
                for key in PairMinima.model_fields:
                    env = ENV_NESTED_DELIMITER.join(("KEEPCLEAR_MINIMA", pair.value, key)).upper()
                    rows[f"minima.{pair.value}.{key}"] = env
        else:
            rows[name] = f"KEEPCLEAR_{name.upper()}"
    return rows


def test_every_setting_has_a_description_and_a_row_in_the_docs():
    rows = documented_rows()
    for name, field in [*Settings.model_fields.items(), *PairMinima.model_fields.items()]:
        assert field.description, f"setting {name} has no description"
    for name, env in setting_rows().items():
        assert rows.get(name, [None])[0] == env, f"setting {name} is not documented in {DOC} as {env}"


def test_docs_list_no_setting_that_does_not_exist():
    assert set(documented_rows()) <= set(setting_rows())


def test_docs_give_the_default_minima_of_every_pair():
    rows = documented_rows()
    for pair, row in DEFAULT_MINIMA.items():
        for key in PairMinima.model_fields:
            documented = rows[f"minima.{pair.value}.{key}"][1].strip("`")
            assert float(documented) == pytest.approx(getattr(row, key)), f"minima.{pair.value}.{key}"


def test_precedence_arguments_then_environment_then_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    config = tmp_path / "k.toml"
    config.write_text('data_dir = "/from/file"\ndatabase_url = "sqlite:////from/file.db"\n')
    monkeypatch.setenv("KEEPCLEAR_DATA_DIR", "/from/env")
    settings = load_settings(config)
    assert str(settings.data_dir) == "/from/env"
    assert settings.database_url == "sqlite:////from/file.db"
    assert str(load_settings(config, data_dir="/from/arg").data_dir) == "/from/arg"


def test_unknown_setting_in_file_is_refused_by_name(tmp_path: Path):
    config = tmp_path / "k.toml"
    config.write_text("lookahed_s = 3\n")
    with pytest.raises(KeepclearError, match="lookahed_s"):
        load_settings(config)
