"""The suite finds holes: a real keepclear server made leaky on one route is reported, with the path,
the key and what leaked; known failures and the keys file are judged strictly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from starlette.types import ASGIApp, Receive, Scope, Send

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.conformance import load_known_failures, parse_keys, run_suite
from keepclear.conformance.client import answer_shape, shape_difference, sibling_id
from keepclear.conformance.need_to_know_reads import foreign_entries
from keepclear.conformance.registry import Result
from keepclear.conformance.runner import _outcome
from keepclear.domain import Party
from keepclear.domain.identity import Role
from keepclear.errors import ValidationError
from keepclear.services.runtime.bus import WallClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings


class AsAdmin:
    """The leak under test: the GET paths ``leaky`` names answer every key as if it were the admin's
    (every party's objects)."""

    def __init__(self, app: ASGIApp, admin_key: str, leaky: Callable[[str], bool]) -> None:
        self.app = app
        self.admin_key = admin_key
        self.leaky = leaky

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and self.leaky(scope["path"]):
            headers = [(k, v) for k, v in scope["headers"] if k != b"authorization"]
            scope = {**scope, "headers": [*headers, (b"authorization", f"Bearer {self.admin_key}".encode())]}
        await self.app(scope, receive, send)


@contextmanager
def served_leaky(tmp_path: Path, leaky: Callable[[str], bool]) -> Iterator[tuple[str, dict[str, object]]]:
    """A real server of three parties, every key of each, whose ``leaky`` GET paths read as the admin."""
    settings = Settings(data_dir=tmp_path / "data", tick_s=0.2)
    dep = Deployment.open(settings, clock=WallClock(), create=True)
    admin = dep.keys.create(Role.ADMIN, None, "admin")[1]
    parties: dict[str, dict[str, str]] = {}
    for party in ("alpha", "bravo", "charlie"):
        dep.registry.add_party(Party(party, party.title()), [])
        parties[party] = {
            r.value: dep.keys.create(r, party, r.value)[1] for r in (Role.LIAISON, Role.OBSERVER, Role.FEED)
        }
    app = create_app(settings, deployment=dep)
    app.add_middleware(AsAdmin, admin_key=admin, leaky=leaky)
    with ThreadedServer(app) as server:
        yield server.url, {"admin": admin, "parties": parties}
    dep.close()


@pytest.fixture
def leaky_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, object]]]:
    with served_leaky(tmp_path, lambda path: path == "/v1/units") as served:
        yield served


def test_a_route_that_shows_other_parties_units_is_reported_with_path_key_and_unit(
    leaky_server: tuple[str, dict[str, object]],
) -> None:
    url, keys = leaky_server
    report = run_suite(
        url, parse_keys(keys), only=["need-to-know.read:/v1/units", "need-to-know.role:feed-reads-only-its-units"]
    )
    outcomes = {o.name: o for o in report.outcomes}
    units = outcomes["need-to-know.read:/v1/units"]
    assert units.status == "FAIL"
    assert f"alpha/liaison GET /v1/units shows unit id {report.run_id}-bravo-u2" in units.reason
    assert outcomes["need-to-know.role:feed-reads-only-its-units"].status == "FAIL"
    assert "lists units of other parties" in outcomes["need-to-know.role:feed-reads-only-its-units"].reason
    assert not report.ok
    # Only the leaky route fails among the reads that ran.
    assert [o.name for o in report.outcomes if o.status == "FAIL"] == [
        "need-to-know.role:feed-reads-only-its-units",
        "need-to-know.read:/v1/units",
    ]


def test_zone_proposals_shown_to_another_party_are_reported_by_list_and_by_id(tmp_path: Path) -> None:
    """A party's zone proposals are its own: a deployment answering every key's list and reads of
    proposals as the admin's is reported on both routes, naming the other party's proposal shown
    and the id that answers otherwise than an unknown one."""
    with served_leaky(tmp_path, lambda path: path.startswith("/v1/zone-proposals")) as (url, keys):
        report = run_suite(
            url,
            parse_keys(keys),
            only=["need-to-know.read:/v1/zone-proposals", "need-to-know.read-unknown-ids:/v1/zone-proposals"],
        )
    outcomes = {o.name: o for o in report.outcomes}
    listed = outcomes["need-to-know.read:/v1/zone-proposals"]
    assert listed.status == "FAIL" and "alpha/liaison GET /v1/zone-proposals shows name of zone proposal of bravo" in (
        listed.reason
    ), listed.reason
    by_id = outcomes["need-to-know.read:/v1/zone-proposals/{proposal_id}"]
    assert by_id.status == "FAIL" and "remarks of zone proposal of" in by_id.reason, by_id.reason
    twins = outcomes["need-to-know.read-unknown-ids:/v1/zone-proposals/{proposal_id}"]
    assert twins.status == "FAIL" and "(not its party's)" in twins.reason, twins.reason
    assert {o.name for o in report.outcomes if o.status == "FAIL"} == {
        "need-to-know.read:/v1/zone-proposals",
        "need-to-know.read:/v1/zone-proposals/{proposal_id}",
        "need-to-know.read-unknown-ids:/v1/zone-proposals/{proposal_id}",
    }


def test_a_known_failure_that_passes_fails_the_run_until_its_entry_is_removed() -> None:
    known = {"x.y": "hole 2, being fixed"}
    assert _outcome(Result("x.y", False, "403 vs 404"), known).status == "XFAIL"
    assert _outcome(Result("x.y", False, "403 vs 404"), known).ok
    fixed = _outcome(Result("x.y", True), known)
    assert fixed.status == "XPASS" and not fixed.ok and "remove it" in fixed.reason
    assert _outcome(Result("x.z", False, "leak"), known).status == "FAIL"


def test_known_failures_file_needs_a_reason_per_entry(tmp_path: Path) -> None:
    listed = tmp_path / "known.txt"
    listed.write_text("# comment\n\nneed-to-know.a  # class 2\n")
    assert load_known_failures(listed) == {"need-to-know.a": "class 2"}
    listed.write_text("need-to-know.a\n")
    with pytest.raises(ValidationError, match="needs a reason"):
        load_known_failures(listed)


def test_keys_file_names_every_missing_key() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_keys({"parties": {"a": {"liaison": "k"}, "b": {}, "c": "x"}}, "keys.yaml")
    problems = refused.value.problems
    assert "keys.yaml: admin: required, the admin key" in problems
    assert "keys.yaml: parties.a.observer: required, a observer key of a" in problems
    assert "keys.yaml: parties.c: must map liaison, observer, feed to keys" in problems


def test_a_made_up_id_has_the_shape_of_the_real_one_and_differs() -> None:
    for real in ("alert-000007", "t-89d052b3c3604ad5", "inc-6e33bd4baaf2", "cf9f89d792-alpha-u2"):
        made_up = sibling_id(real)
        assert made_up != real and len(made_up) == len(real)
        assert [c.isdigit() for c in made_up] == [c.isdigit() for c in real]
        assert [c == "-" for c in made_up] == [c == "-" for c in real]


def test_answers_naming_different_ids_compare_equal_only_when_nothing_else_differs() -> None:
    def answer(status: int, detail: str, path: str) -> httpx.Response:
        body = {"type": "about:blank", "title": "Not found", "status": status, "detail": detail, "instance": path}
        return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})

    same = shape_difference(
        answer_shape(answer(404, "alert 'alert-000007' is not active", "/v1/alerts/alert-000007"), "alert-000007"),
        answer_shape(answer(404, "alert 'alert-777774' is not active", "/v1/alerts/alert-777774"), "alert-777774"),
    )
    assert same is None
    told = shape_difference(
        answer_shape(answer(403, "alert 'alert-000007' does not involve c", "/x"), "alert-000007"),
        answer_shape(answer(404, "alert 'alert-777774' is not active", "/x"), "alert-777774"),
    )
    assert told == "status 403 vs 404 for a made-up id"


def test_a_record_export_showing_the_statement_of_an_entry_outside_the_audience_is_reported() -> None:
    def entry(seq: int, kind: str, audience: list[str] | None, payload: str | None) -> dict[str, object]:
        statement = {"kind": kind, "party": "b", "audience": audience}
        return {"seq": seq, "prev": "0" * 64, "statement": statement, "payload": payload, "key": None, "sig": None}

    placeholder = {"seq": 4, "prev": "0" * 64, "hash": "1" * 64}
    clean = [entry(1, "ledger.genesis", None, "{}"), entry(2, "message.posted", ["a", "b"], "{}"), placeholder]
    assert foreign_entries(clean, "a") == []
    shown = [entry(3, "alert.raised", ["b", "c"], None), placeholder | {"kind": "alert.raised"}]
    assert foreign_entries(shown, "a") == [
        "#3 alert.raised (statement; audience ['b', 'c'])",
        "#4 placeholder with ['kind']",
    ]
