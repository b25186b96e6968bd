"""A party reads its own zone proposals, over real HTTP on both stores: every key of the proposing
party lists them (every state, or one; in pages like the admin's list) and reads one by id, with its
decision (the zone it became, why it was refused); another party's proposal is in none of its lists
and answers by id exactly as an unknown id; the admin still reads every party's. A party's page is
one range of an index (party, proposed time, id) whatever the others proposed; migration 0025 adds
it to a deployment that stored proposals before. A party's pending proposals are bounded by the
setting ``max_pending_zone_proposals_per_party``, which the 409 names.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from apisupport import Service, problem_without, running_service, statements_of_requests
from test_list_paging import responses

from keepclear.cli.main import main
from keepclear.store import Database, migrate
from keepclear.store import zone_proposals as proposals_store
from keepclear.store.migrate import alembic_config
from keepclear.store.schema import metadata
from plansupport import query_plan

PATH = "/v1/zone-proposals"
RING = [[35.0, 36.0], [35.2, 36.0], [35.2, 36.2], [35.0, 36.2], [35.0, 36.0]]
PARTY_KEYS = {"a": ("a-liaison", "a-observer", "a-feed"), "b": ("b-liaison", "b-observer", "b-feed")}


def proposed_over_http(service: Service, who: str, source: str) -> str:
    """A proposal posted with ``who``'s key (a feed's or a liaison's), its id."""
    body = {"source": source, "name": f"Box {source}", "geometry": {"type": "Polygon", "coordinates": [RING]}}
    with service.client(who) as client:
        answer = client.post(PATH, json={**body, "remarks": f"remarks of {source}"})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def ids(answer: httpx.Response) -> list[str]:
    assert answer.status_code == 200, answer.text
    return [p["id"] for p in answer.json()]


@pytest.fixture
def decided(store_service: Service) -> dict[str, str]:
    """Party a's proposals (one accepted as zone ``a-accepted``, one refused, one pending) and party
    b's two (one refused), by name."""
    made = {
        "a-accepted": proposed_over_http(store_service, "a-feed", "a1"),
        "a-refused": proposed_over_http(store_service, "a-liaison", "a2"),
        "a-pending": proposed_over_http(store_service, "a-feed", "a3"),
        "b-refused": proposed_over_http(store_service, "b-feed", "b1"),
        "b-pending": proposed_over_http(store_service, "b-liaison", "b2"),
    }
    with store_service.client("admin") as admin:
        accepted = admin.post(
            f"{PATH}/{made['a-accepted']}/accept", json={"zone_id": "a-accepted", "kind": "special-caution-area"}
        )
        assert accepted.status_code == 200, accepted.text
        for name in ("a-refused", "b-refused"):
            refused = admin.post(f"{PATH}/{made[name]}/refuse", json={"reason": f"why {name}"})
            assert refused.status_code == 200, refused.text
    return made


def test_each_key_of_a_party_lists_its_own_proposals_with_their_decisions_and_no_others(
    store_service: Service, decided: dict[str, str]
) -> None:
    for party, other in (("a", "b"), ("b", "a")):
        own = [decided[n] for n in decided if n.startswith(party)]
        for who in PARTY_KEYS[party]:
            with store_service.client(who) as client:
                listed = client.get(PATH)
                assert ids(listed) == own, who  # every state, oldest first
                for n in decided:
                    if n.startswith(other):
                        assert decided[n] not in listed.text and f"why {n}" not in listed.text
                assert {p["party_id"] for p in listed.json()} == {party}
                for state in ("pending", "accepted", "refused"):
                    mine = [decided[n] for n in decided if n.startswith(party) and n.endswith(state)]
                    assert ids(client.get(PATH, params={"state": state})) == mine, (who, state)

    with store_service.client("a-observer") as observer:
        shown = {p["id"]: p for p in observer.get(PATH).json()}
    accepted, refused, pending = (shown[decided[f"a-{s}"]] for s in ("accepted", "refused", "pending"))
    assert (accepted["state"], accepted["zone_id"], accepted["reason"]) == ("accepted", "a-accepted", "")
    assert (refused["state"], refused["zone_id"], refused["reason"]) == ("refused", None, "why a-refused")
    assert (pending["state"], pending["decided_s"], pending["zone_id"]) == ("pending", None, None)
    assert pending["remarks"] == "remarks of a3" and pending["geometry"]["coordinates"] == [RING]
    with store_service.client("admin") as admin:
        assert ids(admin.get(PATH)) == list(decided.values())  # the admin: every party's


def test_a_partys_list_comes_in_pages_of_its_own_keeping_the_state(
    store_service: Service, decided: dict[str, str]
) -> None:
    more = [proposed_over_http(store_service, "a-feed", f"more{i}") for i in range(4)]
    proposed_over_http(store_service, "b-feed", "b-more")
    with store_service.client("a-liaison") as a:
        paged = list(responses(a, PATH, {"limit": 2}))
        assert [len(r.json()) for r in paged] == [2, 2, 2, 1]
        first_three = [decided["a-accepted"], decided["a-refused"], decided["a-pending"]]
        assert [i for r in paged for i in ids(r)] == [*first_three, *more]
        pending = list(responses(a, PATH, {"limit": 2, "state": "pending"}))
        assert all("state=pending" in r.links["next"]["url"] for r in pending[:-1])
        assert [i for r in pending for i in ids(r)] == [decided["a-pending"], *more]
        cursor = httpx.URL(paged[0].links["next"]["url"]).params["after"]
    with store_service.client("b-liaison") as b:  # a's cursor serves a's key only
        refused = b.get(PATH, params={"limit": 2, "after": cursor})
        assert refused.status_code == 422 and "after" in refused.json()["errors"][0]


def test_a_party_reads_its_own_proposal_by_id_and_anothers_as_an_unknown_one(
    store_service: Service, decided: dict[str, str]
) -> None:
    with store_service.client("admin") as admin:
        as_listed = {p["id"]: p for p in admin.get(PATH).json()}
        for proposal_id in decided.values():  # the admin: any
            read = admin.get(f"{PATH}/{proposal_id}")
            assert read.status_code == 200 and read.json() == as_listed[proposal_id], read.text
    for party in ("a", "b"):
        for who in PARTY_KEYS[party]:
            with store_service.client(who) as client:
                unknown = client.get(f"{PATH}/zp-nothing")
                assert unknown.status_code == 404, unknown.text
                for name, proposal_id in decided.items():
                    read = client.get(f"{PATH}/{proposal_id}")
                    if name.startswith(party):
                        assert read.status_code == 200 and read.json() == as_listed[proposal_id], (who, read.text)
                    else:
                        assert problem_without(read, proposal_id) == problem_without(unknown, "zp-nothing"), who
                        assert f"why {name}" not in read.text and f"Box {name[0]}" not in read.text
    with store_service.client(None) as nobody:
        assert nobody.get(f"{PATH}/{decided['a-pending']}").status_code == 401


def _bulk(service: Service, party: str, count: int, first_s: float) -> None:
    """``count`` proposals of ``party``, straight into the store (as many as every party's bound allows)."""
    geometry = json.dumps({"type": "Polygon", "coordinates": [RING]})
    rows = [
        {
            "id": f"zp-{party}-{i:06d}",
            "party_id": party,
            "source": f"bulk{i}",
            "name": f"Box {i}",
            "geometry": geometry,
            "remarks": "",
            "proposed_s": first_s + i,
            "state": ("pending", "refused", "accepted")[i % 3],
        }
        for i in range(count)
    ]
    with service.deployment.db.write() as conn:
        conn.execute(proposals_store.zone_proposals.insert(), rows)


def test_a_partys_page_is_one_range_of_the_index_of_its_own_proposals(store_service: Service) -> None:
    _bulk(store_service, "b", 5_000, 1_000.0)  # others proposed (and had decided) many
    _bulk(store_service, "a", 6, 500.0)
    db = store_service.deployment.db
    with store_service.client("a-liaison") as a:
        a.get("/v1/me")
        for params, index in (
            ({"limit": 4}, "ix_zone_proposals_party_proposed"),
            ({"limit": 4, "state": "refused"}, "ix_zone_proposals_party_state_proposed"),
        ):
            with statements_of_requests(db.engine) as seen:
                answer = a.get(PATH, params=params)
            assert answer.status_code == 200 and {p["party_id"] for p in answer.json()} == {"a"}, answer.text
            read = [(s, p) for s, p in seen if "FROM zone_proposals" in s]
            assert len(read) == 1, read
            plan = query_plan(db, *read[0], "zone_proposals")
            assert index in plan, plan


def test_the_migration_indexes_proposals_stored_before_it_by_party_and_the_downgrade_drops_it(
    database_url: str,
) -> None:
    db = Database(database_url)
    new = {"ix_zone_proposals_party_proposed", "ix_zone_proposals_party_state_proposed"}
    try:
        command.upgrade(alembic_config(db), "0018_zone_proposals_order")
        with db.write() as conn:
            for i, (party, proposed_s) in enumerate((("a", 30.0), ("b", 5.0), ("a", 10.0), ("a", 20.0))):
                conn.execute(
                    sa.text(
                        "INSERT INTO zone_proposals (id, party_id, source, name, geometry, remarks, proposed_s,"
                        " state) VALUES (:id, :party, :source, 'n', '{}', '', :proposed_s, 'pending')"
                    ),
                    {"id": f"zp-{i}", "party": party, "source": f"s{i}", "proposed_s": proposed_s},
                )
        migrate(db)
        with db.engine.connect() as conn:
            indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("zone_proposals")}
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in diff if "zone_proposals" in repr(d)] == []
        assert indexes["ix_zone_proposals_party_proposed"] == ["party_id", "proposed_s", "id"]
        assert indexes["ix_zone_proposals_party_state_proposed"] == ["party_id", "state", "proposed_s", "id"]
        with db.read() as conn:
            first = proposals_store.proposals_page(conn, None, None, 2, "a")
            rest = proposals_store.proposals_page(conn, "pending", (20.0, "zp-3"), 10, "a")
        assert [p["id"] for p in first + rest] == ["zp-2", "zp-3", "zp-0"]
        command.downgrade(alembic_config(db), "0018_zone_proposals_order")
        with db.engine.connect() as conn:
            assert not new & {i["name"] for i in sa.inspect(conn).get_indexes("zone_proposals")}
            assert conn.execute(sa.text("SELECT count(*) FROM zone_proposals")).scalar_one() == 4
    finally:
        db.dispose()


def test_the_cli_lists_one_partys_proposals_with_their_decisions(
    store_service: Service, decided: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    settings = store_service.deployment.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        where += ["--database-url", settings.database_url]
    assert main([*where, "zones", "proposals", "--party", "a", "--state", "all"]) == 0
    lines: list[Any] = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == [decided[n] for n in decided if n.startswith("a")]
    assert "accepted as zone a-accepted" in lines[0] and "refused: why a-refused" in lines[1]
    assert main([*where, "zones", "proposals", "--party", "b", "--state", "refused"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == [decided["b-refused"]]


def test_a_partys_pending_proposals_are_bounded_by_the_setting_the_refusal_names(
    tmp_path: Path, database_url: str
) -> None:
    with running_service(tmp_path / "data", database_url, max_pending_zone_proposals_per_party=2) as service:
        first, second = (proposed_over_http(service, "a-feed", f"p{i}") for i in range(2))
        body = {"source": "p2", "name": "Box p2", "geometry": {"type": "Polygon", "coordinates": [RING]}}
        with service.client("a-liaison") as a:
            refused = a.post(PATH, json=body)
            assert refused.status_code == 409, refused.text
            assert "max_pending_zone_proposals_per_party: 2" in refused.json()["detail"], refused.text
            assert ids(a.get(PATH, params={"state": "pending"})) == [first, second]  # which wait, to redraw
            with service.client("admin") as admin:
                assert admin.post(f"{PATH}/{first}/refuse", json={"reason": "no"}).status_code == 200
                counters = admin.get("/v1/metrics").json()["counters"]
                assert counters["zone_proposals_pending_per_party_limit"] == 2
                assert counters["zone_proposals_refused_limit_total"] == 1
            assert a.post(PATH, json=body).status_code == 201  # a decision makes room
        proposed_over_http(service, "b-feed", "b-p0")  # each party's own bound
        proposed_over_http(service, "b-feed", "b-p1")
