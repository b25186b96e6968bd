"""A deployment given ``bus_url`` on an installation without the ``cluster`` extra is told what to install."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from keepclear.errors import ValidationError
from keepclear.services.runtime.deployment import bus_for
from keepclear.settings import Settings


def test_bus_url_without_nats_py_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)  # as if nats-py were not installed
    monkeypatch.delitem(sys.modules, "keepclear.services.runtime.nats_bus", raising=False)
    with pytest.raises(ValidationError) as refused:
        bus_for(Settings(data_dir=tmp_path, bus_url="nats://127.0.0.1:4231"))
    assert refused.value.problems[0].startswith("bus_url: ")
    assert "pip install 'keepclear[cluster]'" in refused.value.problems[0]


def test_no_bus_url_is_the_in_process_bus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nats", None)  # the embedded default never needs nats-py
    bus = bus_for(Settings(data_dir=tmp_path))
    assert type(bus).__name__ == "EventBus"
    bus.close()
