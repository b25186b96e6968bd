"""Alert book lifecycle: raised, level changes, acknowledged per party, resolved; deterministic."""

from __future__ import annotations

import json

import numpy as np
import pytest

from keepclear.detect.alerts import AlertBook, candidate_settings
from keepclear.detect.minima import ProbeSettings
from keepclear.detect.probe import probe
from keepclear.detect.states import TrackStates
from keepclear.detect.wellclear import AlertingSettings, AlertPolicy, Hysteresis, do_365b_phase_i
from keepclear.domain.events import Event

PARTIES = ["coalition", "russia"]


def head_on(t: float) -> TrackStates:
    """Two jets head-on at 200 m/s each, co-altitude, 40 km apart at t=0 (reports at time t)."""
    x = 20_000.0 - 200.0 * t
    lon = x / 111_320.0
    return TrackStates(
        ("jet-r", "jet-c"),
        np.array([1, 0]),
        np.array([0, 0]),
        np.full(2, t),
        np.array([35.0, 35.0]),
        np.array([36.0 - lon / np.cos(np.radians(35.0)), 36.0 + lon / np.cos(np.radians(35.0))]),
        np.full(2, 9000.0),
        np.array([200.0, -200.0]),
        np.zeros(2),
        np.zeros(2),
    )


def run(book: AlertBook, times: list[float]) -> list[Event]:
    wide = candidate_settings(book.settings, ProbeSettings())
    events: list[Event] = []
    for t in times:
        s = head_on(t)
        events += book.update(t, s, probe(s, t, wide), PARTIES)
    return events


def test_an_encounter_raises_escalates_and_resolves_with_events_for_both_parties() -> None:
    events = run(AlertBook(), [float(t) for t in range(0, 140)])
    assert [e.kind for e in events] == ["alert.raised", "alert.level_changed", "alert.resolved"]
    raised, changed, resolved = events
    assert raised.parties == frozenset(PARTIES)
    assert raised.payload["unit_a"] == "jet-c" and raised.payload["party_a"] == "coalition"
    assert raised.payload["level"] == "caution" and changed.payload["level"] == "warning"
    assert resolved.payload["previous_level"] == "warning" and resolved.payload["level"] == "none"
    assert raised.payload["cpa"]["tcpa_s"] > 0 and set(raised.payload["cpa"]["points"]) == {"jet-c", "jet-r"}
    json.dumps([e.payload for e in events])  # JSON-ready


def test_acknowledgement_is_per_party_and_only_by_the_parties_concerned() -> None:
    book = AlertBook()
    run(book, [float(t) for t in range(0, 60)])
    (alert,) = book.active()
    event = book.acknowledge(alert.id, "russia", 60.0)
    assert event.kind == "alert.acknowledged" and event.payload["acknowledged_by"] == ["russia"]
    book.acknowledge(alert.id, "coalition", 61.0)
    assert book.active()[0].acknowledged_by == frozenset(PARTIES)
    with pytest.raises(PermissionError):
        book.acknowledge(alert.id, "un-ocha", 62.0)
    with pytest.raises(KeyError):
        book.acknowledge("alert-999999", "russia", 62.0)


def test_same_inputs_give_the_same_events() -> None:
    a = run(AlertBook(), [float(t) for t in range(0, 140, 2)])
    b = run(AlertBook(), [float(t) for t in range(0, 140, 2)])
    assert a == b and a


def test_a_single_flicker_does_not_raise_with_m_of_n() -> None:
    book = AlertBook()
    s_far = head_on(0.0)
    s_near = head_on(60.0)
    wide = candidate_settings(book.settings, ProbeSettings())
    seq = [s_far, s_near, s_far, s_far, s_far]
    events = []
    for k, s in enumerate(seq):
        events += book.update(float(k), s, probe(s, float(k), wide), PARTIES)
    assert events == []


def test_reset_after_a_gap() -> None:
    settings = AlertingSettings(air_air=AlertPolicy(do_365b_phase_i().levels, Hysteresis(2, 4, 4.0, 5.0)))
    book = AlertBook(settings)
    near = head_on(60.0)
    wide = candidate_settings(settings, ProbeSettings())
    # One near report, a 10 s silence, another: the first is forgotten, so no alert yet.
    assert book.update(0.0, near, probe(near, 0.0, wide), PARTIES) == []
    near2 = TrackStates(
        *(getattr(near, f) for f in ("unit_ids", "party", "domain")),
        np.full(2, 10.0),
        *(getattr(near, f) for f in ("lat_deg", "lon_deg", "alt_m", "vel_east_mps", "vel_north_mps", "vel_up_mps")),
    )
    assert book.update(10.0, near2, probe(near2, 10.0, wide), PARTIES) == []
    assert book.active() == []
