"""A party's stream says nothing of the events it is not shown (the parties are adversaries).

The same world runs twice on a real server with a clock moved by hand: party a adds units (its own
events) while, in one run only, parties c and d add units and talk on their hotline thread between
a's events. a's stream (catch-up, a resume, a new connection's hello) must be the same bytes in
both runs: no id, number or hello field may count the others' events. An id a was never sent (made
up, or from b's stream) is answered with reload and none of a's, let alone others', events.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from apisupport import populate

from keepclear.api import create_app
from keepclear.api.server import ThreadedServer
from keepclear.domain import Contact, Domain, Force, Party, Unit
from keepclear.domain.hotline import Draft, MessageKind
from keepclear.services.runtime.bus import ManualClock
from keepclear.services.runtime.deployment import Deployment
from keepclear.settings import Settings

START_S = 1_700_000_000.0


def _read(url: str, key: str, last_event_id: str | None, *, once: bool = True) -> str:
    """The stream's bytes as text: with ``once`` all it sends; else up to and with its hello."""
    headers = {"Authorization": f"Bearer {key}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    text = ""
    with (
        httpx.Client(base_url=url, timeout=30) as client,
        client.stream("GET", "/v1/stream", params={"once": str(once).lower()}, headers=headers) as response,
    ):
        assert response.status_code == 200, response.read()
        for chunk in response.iter_text():
            text += chunk
            if not once and "event: hello" in text and text.endswith("\n\n"):
                break
    return text


def _ids(text: str) -> list[str]:
    return [line[4:] for line in text.splitlines() if line.startswith("id: ")]


def _world(data_dir: Path, others_busy: bool) -> dict[str, str]:
    """What a and b read of their streams after the same world, with or without c and d's traffic."""
    clock = ManualClock(START_S)
    settings = Settings(data_dir=data_dir, tick_s=0.2)
    dep = Deployment.open(settings, clock=clock, create=True)
    try:
        keys = populate(dep)
        reg = dep.registry
        for party in ("c", "d"):  # both runs have them (a is told of a new party)
            reg.add_party(Party(party, party.upper()), [Contact(f"{party} duty officer")])
            reg.add_force(Force(f"f{party}", f"{party} air", party))
        app = create_app(settings, deployment=dep)
        runtime = app.state.runtime
        with ThreadedServer(app) as server:
            thread = runtime.hotline.create_thread("c", ["d"], "c and d") if others_busy else None
            for step in range(4):
                clock.advance(1.0)
                if thread is not None:  # a burst between c and d before each of a's events
                    for k in range(5):
                        reg.add_unit(Unit(f"uc{step}-{k}", f"C{step}{k}", Domain.AIR, "fighter", "fc"))
                        draft = Draft(thread.id, MessageKind.TEXT, f"c-to-d-{step}-{k}", body=f"c to d {step} {k}")
                        runtime.hotline.post("c", "c duty officer", draft)
                reg.add_unit(Unit(f"ua{step}", f"A{step}", Domain.LAND, "convoy", "fa"))
            reg.add_unit(Unit("ub9", "B9", Domain.LAND, "convoy", "fb"))
            url = server.url
            everything = _read(url, keys["a-liaison"], "0")
            a_ids = _ids(everything)
            return {
                "everything": everything,
                "after second": _read(url, keys["a-liaison"], a_ids[1]),
                "hello": _read(url, keys["a-observer"], None, once=False),
                "made up": _read(url, keys["a-liaison"], "0123456789abcdef"),
                "b's id": _read(url, keys["a-liaison"], _ids(_read(url, keys["b-liaison"], "0"))[-1]),
                "old form": _read(url, keys["a-liaison"], "17"),
            }
    finally:
        dep.close()


def test_a_partys_stream_is_the_same_bytes_whatever_other_parties_did(tmp_path: Path) -> None:
    quiet = _world(tmp_path / "quiet", others_busy=False)
    busy = _world(tmp_path / "busy", others_busy=True)
    for name in quiet:
        assert busy[name] == quiet[name], name
    everything = quiet["everything"]
    units = [json.loads(line[6:])["payload"]["unit_id"] for line in everything.splitlines() if '"unit.added"' in line]
    assert units == ["ua0", "ua1", "ua2", "ua3"]
    assert '"seq"' not in everything and "event: reload" not in everything
    # The resume point is found: exactly the events after a's second one.
    after = quiet["after second"]
    assert _ids(after) == _ids(everything)[2:] and "event: reload" not in after
    assert quiet["hello"].endswith("event: hello\ndata: {}\n\n")


def test_an_id_the_party_was_never_sent_is_answered_with_reload_and_nothing_else(tmp_path: Path) -> None:
    world = _world(tmp_path / "w", others_busy=True)
    for name in ("made up", "b's id", "old form"):
        text = world[name]
        assert "event: reload" in text, name
        assert _ids(text) == [], (name, text)
