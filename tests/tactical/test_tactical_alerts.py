"""Alert book lifecycle: raised, level changes, acknowledged per party, resolved; deterministic
given a seeded source of id bits."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from keepclear.detect.alerts import AlertBook, candidate_settings
from keepclear.detect.minima import DOMAIN_CODES, DomainPair, ProbeSettings
from keepclear.detect.probe import probe
from keepclear.detect.states import TrackStates
from keepclear.detect.wellclear import AlertingSettings, AlertPolicy, Hysteresis, do_365b_phase_i
from keepclear.domain.event_payloads import AlertAcknowledged, AlertChange
from keepclear.domain.events import Event

PARTIES = ["coalition", "russia"]

DOMAIN_OF = {code: domain for domain, code in DOMAIN_CODES.items()}


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
    for event in events:  # each fits its kind's typed form exactly (no field more, none less)
        assert AlertChange.from_payload(event.payload).to_payload() == event.payload


def test_acknowledgement_is_per_party_and_only_by_the_parties_concerned() -> None:
    book = AlertBook()
    run(book, [float(t) for t in range(0, 60)])
    (alert,) = book.active()
    event = book.acknowledge(alert.id, "russia", 60.0)
    assert event.kind == "alert.acknowledged" and event.payload["acknowledged_by"] == ["russia"]
    assert AlertAcknowledged.from_payload(event.payload).acknowledged_by == ["russia"]
    book.acknowledge(alert.id, "coalition", 61.0)
    assert book.active()[0].acknowledged_by == frozenset(PARTIES)
    with pytest.raises(PermissionError):
        book.acknowledge(alert.id, "un-ocha", 62.0)
    with pytest.raises(KeyError):
        book.acknowledge("alert-999999", "russia", 62.0)


def test_same_inputs_and_seed_give_the_same_events() -> None:
    a = run(AlertBook(random_bits=random.Random(7).getrandbits), [float(t) for t in range(0, 140, 2)])
    b = run(AlertBook(random_bits=random.Random(7).getrandbits), [float(t) for t in range(0, 140, 2)])
    assert a == b and a


def test_without_a_seed_the_same_inputs_give_the_same_events_but_other_ids() -> None:
    a = run(AlertBook(), [float(t) for t in range(0, 140, 2)])
    b = run(AlertBook(), [float(t) for t in range(0, 140, 2)])

    def without_ids(events: list[Event]) -> list[object]:
        return [(e.kind, e.time_s, {k: v for k, v in e.payload.items() if k != "alert_id"}) for e in events]

    assert without_ids(a) == without_ids(b) and a
    assert a[0].payload["alert_id"] != b[0].payload["alert_id"]


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


def _reference_book(
    ticks: list[tuple[float, TrackStates]], settings: AlertingSettings, id_seed: int
) -> list[tuple[str, str, str, str, str]]:
    """The alert lifecycle written the plain way, one ``PairHysteresis`` per pair in a dict:
    (kind, alert id, unit a, unit b, level) per change, pairs in unit-id order each tick; ids drawn
    from ``random.Random(id_seed)`` in the order raised."""
    from keepclear.detect.hysteresis import PairHysteresis
    from keepclear.detect.kinematics import kinematics_at
    from keepclear.detect.relative import relative_motion
    from keepclear.detect.wellclear import raw_levels

    wide = candidate_settings(settings, ProbeSettings())
    filters: dict[tuple[str, str], PairHysteresis] = {}
    alerts: dict[tuple[str, str], tuple[str, int]] = {}
    id_bits = random.Random(id_seed)
    out = []
    for t, s in ticks:
        c = probe(s, t, wide)
        raw: dict[tuple[str, str], int] = {}
        for k in range(len(c)):
            ra, rb = int(c.row_a[k]), int(c.row_b[k])
            rel = relative_motion(kinematics_at(s, t), np.array([ra]), np.array([rb]))
            a, b = sorted((s.unit_ids[ra], s.unit_ids[rb]))
            raw[(a, b)] = int(
                raw_levels(
                    rel, settings.policy(DomainPair.of(DOMAIN_OF[int(s.domain[ra])], DOMAIN_OF[int(s.domain[rb])]))
                )[0]
            )
        for key in sorted(set(raw) | set(filters)):
            level = raw.get(key, 0)
            if key not in filters:
                if level == 0:
                    continue
                filters[key] = PairHysteresis(settings.air_air.hysteresis)
            shown = filters[key].step(t, level)
            before = alerts.get(key)
            if before is None and shown > 0:
                alerts[key] = (f"alert-{id_bits.getrandbits(80):020x}", shown)
                out.append(("alert.raised", alerts[key][0], *key, str(shown)))
            elif before is not None and shown == 0:
                del alerts[key]
                out.append(("alert.resolved", before[0], *key, "0"))
            elif before is not None and shown != before[1]:
                alerts[key] = (before[0], shown)
                out.append(("alert.level_changed", before[0], *key, str(shown)))
            if key not in alerts and shown == 0 and level == 0:
                del filters[key]
    return out


@pytest.mark.parametrize("seed", range(6))
def test_many_pairs_follow_the_plain_per_pair_lifecycle(seed: int) -> None:
    """Dozens of aircraft of three parties milling about, some leaving the picture and new ones
    arriving: the book's events are exactly the plain per-pair lifecycle's, ids included."""
    rng = np.random.default_rng(seed)
    n = 48
    lat, lon = rng.uniform(35.0, 35.25, n), rng.uniform(36.0, 36.25, n)
    alt = rng.choice([9000.0, 9100.0, 9400.0], n)
    ve, vn = rng.uniform(-200, 200, n), rng.uniform(-200, 200, n)
    ticks = []
    for step in range(40):
        t = float(step) + (1.5 if step > 20 else 0.0) + (6.0 if step >= 30 else 0.0)  # a late tick, a long gap
        present = [i for i in range(n) if not (step >= 12 and i % 7 == 0) and not (step < 8 and i % 5 == 4)]
        ids = tuple(f"u{(i * 37 + seed) % 100:02d}-{i}" for i in present)
        rows = np.array(present)
        ticks.append(
            (
                t,
                TrackStates(
                    ids,
                    rows % 3,
                    np.zeros(len(rows), dtype=np.int64),
                    np.full(len(rows), 0.0),
                    lat[rows],
                    lon[rows],
                    alt[rows],
                    ve[rows],
                    vn[rows],
                    np.zeros(len(rows)),
                ),
            )
        )
    settings = AlertingSettings()
    book = AlertBook(settings, random_bits=random.Random(seed).getrandbits)
    got = []
    for t, s in ticks:
        for e in book.update(t, s, probe(s, t, candidate_settings(settings, ProbeSettings())), ["p0", "p1", "p2"]):
            p = e.payload
            got.append((e.kind, p["alert_id"], p["unit_a"], p["unit_b"], str(p["level_number"])))
    expected = _reference_book(ticks, settings, seed)
    assert len(expected) > 10  # the scene does raise, change and resolve alerts
    assert {"alert.raised", "alert.resolved"} <= {k for k, *_ in expected}
    assert got == expected
    raised = [alert_id for kind, alert_id, *_ in got if kind == "alert.raised"]
    assert [a.id for a in book.active()] == [i for i in raised if book.get(i) is not None]  # in the order raised


def test_codes_of_departed_units_are_forgotten_and_standing_alerts_survive_it() -> None:
    """A long-running service meets ever new unit ids: the book's unit codes stay bounded, and the
    encounter in progress goes on with the same alert, as if nothing else had been seen."""
    book = AlertBook(random_bits=random.Random(3).getrandbits)
    wide = candidate_settings(book.settings, ProbeSettings())
    events = []
    for step in range(140):
        t = float(step)
        jets = head_on(t)
        passers = tuple(f"passer-{step}-{k}" for k in range(20))  # far away, each seen once
        s = TrackStates(
            jets.unit_ids + passers,
            np.concatenate([jets.party, np.arange(20) % 2]),
            np.zeros(22, dtype=np.int64),
            np.full(22, t),
            np.concatenate([jets.lat_deg, np.full(20, 10.0)]),
            np.concatenate([jets.lon_deg, np.arange(20) * 1.0]),
            np.full(22, 9000.0),
            np.concatenate([jets.vel_east_mps, np.zeros(20)]),
            np.zeros(22),
            np.zeros(22),
        )
        events += book.update(t, s, probe(s, t, wide), PARTIES)
    plain = run(AlertBook(random_bits=random.Random(3).getrandbits), [float(t) for t in range(140)])
    assert [(e.kind, e.payload["alert_id"], e.payload["level"]) for e in events] == [
        (e.kind, e.payload["alert_id"], e.payload["level"]) for e in plain
    ]
    assert len(book._codes) < 1100  # 2,802 unit ids were seen


def test_a_loss_of_separation_is_noted_once_per_alert() -> None:
    book = AlertBook()
    wide = candidate_settings(book.settings, ProbeSettings())
    noted: list[tuple[float, str]] = []
    raised: list[str] = []
    ticks_in_los = 0
    for step in range(140):
        t = float(step)
        s = head_on(t)
        conflicts = probe(s, t, wide)
        raised += [e.payload["alert_id"] for e in book.update(t, s, conflicts, PARTIES) if e.kind == "alert.raised"]
        ticks_in_los += bool(conflicts.los.any())
        noted += [(t, a.id) for a in book.newly_lost(conflicts.los)]
    assert ticks_in_los > 5  # the jets stay within the probe's minima for many ticks
    assert len(noted) == 1 and [noted[0][1]] == raised
