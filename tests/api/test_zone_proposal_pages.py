"""``GET /v1/zone-proposals`` comes in pages like the other growing lists (docs/api.md, "Lists come in
pages"), over real HTTP on both stores: ``limit`` items a page, the next one linked with
``Link: <...>; rel="next"`` (keeping ``state``), each proposal exactly once in (proposed time, id)
order while more are proposed between pages, a bad ``limit`` or ``after`` refused naming it; the
admin lists every party's, a party's keys only their own whatever page they ask for (more in
``test_zone_proposals_own``); the migration indexes them in that order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from apisupport import Service
from test_list_paging import responses

from keepclear.cli import zone_proposals as zone_proposals_cli
from keepclear.cli.main import main
from keepclear.services.zones.proposals import ZoneProposals
from keepclear.store import Database
from keepclear.store import zone_proposals as proposals_store
from keepclear.store.schema import metadata

RING = [[35.0, 36.0], [35.2, 36.0], [35.2, 36.2], [35.0, 36.2], [35.0, 36.0]]
PATH = "/v1/zone-proposals"


def propose(service: Service, party: str, source: str) -> str:
    found, created = service.deployment.zone_proposals.propose(
        party, source, f"Box {source}", {"type": "Polygon", "coordinates": [RING]}
    )
    assert created
    return found


def store_at_one_time(service: Service, party: str, sources: list[str], proposed_s: float) -> list[str]:
    """Proposals stored with the same time (their order is then by id)."""
    ids = [f"zp-tie-{source}" for source in sources]
    with service.deployment.db.write() as conn:
        for proposal_id, source in zip(ids, sources, strict=True):
            proposals_store.upsert_pending(
                conn,
                {
                    "id": proposal_id,
                    "party_id": party,
                    "source": source,
                    "name": f"Box {source}",
                    "geometry": json.dumps({"type": "Polygon", "coordinates": [RING]}),
                    "remarks": "",
                    "proposed_s": proposed_s,
                },
            )
    return ids


def pages(
    client: httpx.Client, params: dict[str, Any], between: Callable[[int], None] = lambda _: None
) -> Iterator[httpx.Response]:
    """Every page of the list asked with ``params`` (``test_list_paging.responses``)."""
    return responses(client, PATH, params, between)


def ids_of(responses: Iterator[httpx.Response]) -> list[str]:
    return [p["id"] for r in responses for p in r.json()]


def test_proposals_come_in_pages_each_once_in_order_while_more_are_proposed(store_service: Service) -> None:
    with store_service.client("admin") as admin:
        empty = admin.get(PATH, params={"limit": 3})
        assert empty.status_code == 200 and empty.json() == [] and "Link" not in empty.headers
    for i in range(5):
        propose(store_service, "a" if i % 2 else "b", f"d{i}")
    tied = store_at_one_time(store_service, "a", ["t2", "t0", "t1"], time.time() - 100)
    with store_service.client("admin") as admin:
        whole = admin.get(PATH)  # no limit: list_page_items (100) is all of it
        assert whole.status_code == 200 and "Link" not in whole.headers
        order = [p["id"] for p in whole.json()]
        assert len(order) == 8 and order[:3] == sorted(tied)  # the same time: by id
        keys = [(p["proposed_s"], p["id"]) for p in whole.json()]
        assert keys == sorted(keys)

        sizes = [len(r.json()) for r in pages(admin, {"limit": 3})]
        assert sizes == [3, 3, 2]
        assert ids_of(pages(admin, {"limit": 3})) == order
        exact = list(pages(admin, {"limit": 8}))  # exactly a page: no link to an empty one
        assert len(exact) == 1 and "Link" not in exact[0].headers and ids_of(iter(exact)) == order
        assert ids_of(pages(admin, {"limit": 1})) == order

        added: list[str] = []

        def propose_more(page: int) -> None:
            if page <= 2:
                added.append(propose(store_service, "a", f"late{page}"))

        seen = ids_of(pages(admin, {"limit": 2}, propose_more))
        assert seen == order + added  # proposed after the cursor: reached, each once, in order
        assert len(seen) == len(set(seen))


def test_the_next_page_keeps_the_state_asked_for(store_service: Service) -> None:
    made = [propose(store_service, "a", f"s{i}") for i in range(7)]
    proposals = store_service.deployment.zone_proposals
    for proposal_id in made[1::2]:
        proposals.refuse(proposal_id, "not ours to draw")
    with store_service.client("admin") as admin:
        responses = list(pages(admin, {"limit": 2, "state": "pending"}))
        assert [len(r.json()) for r in responses] == [2, 2]
        for response in responses[:-1]:
            assert "state=pending" in response.links["next"]["url"]
        assert ids_of(iter(responses)) == made[0::2]
        assert {p["state"] for r in responses for p in r.json()} == {"pending"}
        assert ids_of(pages(admin, {"limit": 2, "state": "refused"})) == made[1::2]
        assert ids_of(pages(admin, {"limit": 2})) == made


def test_bad_limit_or_after_is_refused_naming_it(store_service: Service) -> None:
    for i in range(3):
        propose(store_service, "a", f"b{i}")
    with store_service.client("admin") as admin:
        for limit in ("0", "-1", "1001", "ten", "1.5"):
            refused = admin.get(PATH, params={"limit": limit})
            assert refused.status_code == 422, (limit, refused.text)
            assert refused.json()["errors"][0].startswith("limit"), refused.text
        first = admin.get(PATH, params={"limit": 1})
        cursor = httpx.URL(first.links["next"]["url"]).params["after"]
        assert "zp" not in cursor  # opaque: no id in it
        other_list = admin.get("/v1/incidents", params={"after": cursor})  # another list's cursor
        assert other_list.status_code == 422 and "after" in other_list.json()["errors"][0]
        edited = cursor[:-2] + ("AA" if not cursor.endswith("AA") else "BB")
        for after in ("", "x", "c1.", "c1.AAAA", "c1." + "A" * 600, edited):
            refused = admin.get(PATH, params={"after": after})
            assert refused.status_code == 422, (after, refused.text)
            assert "after" in refused.json()["errors"][0], refused.text
        assert admin.get(PATH, params={"after": cursor}).status_code == 200  # its own still serves


def test_a_partys_keys_list_only_its_own_proposals_whatever_page_is_asked(store_service: Service) -> None:
    mine = propose(store_service, "a", "own")
    theirs = propose(store_service, "b", "theirs")
    with store_service.client("admin") as admin:
        first = admin.get(PATH, params={"limit": 1})
        assert first.status_code == 200 and "next" in first.links
        cursor = httpx.URL(first.links["next"]["url"]).params["after"]
    for who, own, other in (
        ("a-liaison", mine, theirs),
        ("a-observer", mine, theirs),
        ("a-feed", mine, theirs),
        ("b-liaison", theirs, mine),
    ):
        with store_service.client(who) as client:
            for params in ({}, {"limit": 1}, {"state": "pending"}):
                listed = client.get(PATH, params=params)
                assert listed.status_code == 200, (who, params, listed.text)
                assert [p["id"] for p in listed.json()] == [own] and "Link" not in listed.headers
            for params in ({"after": cursor}, {"limit": "0"}):  # the admin's cursor, a bad limit
                refused = client.get(PATH, params=params)
                assert refused.status_code == 422, (who, params, refused.text)
                assert other not in refused.text and own not in refused.text
    with store_service.client(None) as nobody:
        assert nobody.get(PATH, params={"limit": 1}).status_code == 401


def test_the_migration_indexes_proposals_in_the_order_they_are_listed(database: Database) -> None:
    with database.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
        indexes = {i["name"]: i["column_names"] for i in sa.inspect(conn).get_indexes("zone_proposals")}
    assert [d for d in diff if "zone_proposals" in repr(d)] == []
    assert indexes["ix_zone_proposals_proposed"] == ["proposed_s", "id"]
    assert indexes["ix_zone_proposals_state_proposed"] == ["state", "proposed_s", "id"]


def test_the_cli_lists_every_proposal_a_page_at_a_time(
    store_service: Service, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    made = [propose(store_service, "a" if i % 2 else "b", f"c{i}") for i in range(5)]
    store_service.deployment.zone_proposals.refuse(made[2], "not ours to draw")
    monkeypatch.setattr(zone_proposals_cli, "PAGE_ITEMS", 2)
    read: list[int] = []
    page = ZoneProposals.page

    def counted(self: ZoneProposals, *args: Any) -> Any:
        found = page(self, *args)
        read.append(len(found[0]))
        return found

    monkeypatch.setattr(ZoneProposals, "page", counted)
    settings = store_service.deployment.settings
    where = ["--data-dir", str(settings.data_dir)]
    if settings.database_url:
        where += ["--database-url", settings.database_url]
    assert main([*where, "zones", "proposals", "--state", "pending"]) == 0
    printed = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert printed == [m for i, m in enumerate(made) if i != 2]  # in order, each once
    assert read == [2, 2]  # two pages of two, never the whole list at once
