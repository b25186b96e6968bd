"""What an event's stream texts and id are, pinned (the tag is a resume point in every API process,
old and new alike: ``api.streams``), and the time written into them worked out once a value.
"""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime
from typing import Any

import pytest

from keepclear.api.streams import StreamHub
from keepclear.domain import timefmt
from keepclear.domain.event_kinds import EventKind
from keepclear.domain.events import Event
from keepclear.domain.timefmt import format_utc


def _texts(hub: StreamHub, party_id: str) -> list[str]:
    """Everything the ring of ``party_id`` keeps, as a client resuming from ``0`` is sent it."""

    async def read() -> list[str]:
        return [text async for text in hub.stream(party_id, "0", once=True)]

    return [text for text in asyncio.run(read()) if text.startswith("id: ")]


#: Texts the hub makes (pinned: tags are resume points in every process, so they may not change).
PINNED_EVENT = Event(
    EventKind.MESSAGE_POSTED,
    1_765_084_310.125,
    "coalition",
    {
        "thread_id": "thr-1",
        "seq": 7,
        "text": 'курс 090 "VIPER"',
        "data": {"b": 1.5, "a": [None, True]},
        "reply_to_seq": None,
    },
    frozenset({"coalition", "russia"}),
)
PINNED_BODY = (
    '"kind":"message.posted","party_id":"coalition","payload":{"data":{"a":[null,true],"b":1.5},"reply_to_seq":null,'
    '"seq":7,"text":"\\u043a\\u0443\\u0440\\u0441 090 \\"VIPER\\"","thread_id":"thr-1"},"schema_version":1,'
    '"time":"2025-12-07T05:11:50.125Z"}'
)


def test_the_texts_tags_and_id_of_an_event_are_the_pinned_ones() -> None:
    hub = StreamHub()
    hub.on_event(PINNED_EVENT)
    for party, tag in (("coalition", "2faf8c5400964699"), ("russia", "62868dae9d438359")):
        expected = f'id: {tag}\nevent: message.posted\ndata: {{"id":"{tag}",{PINNED_BODY}\n\n'
        assert _texts(hub, party) == [expected]
    assert PINNED_EVENT.id == "evt-93858984cdc1be3de660c70ddc8ad684"


def test_a_time_written_again_is_not_worked_out_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A hotline message's time is written into each reader's view and each party's stream event."""
    worked: list[float] = []
    real = datetime

    class Counting:
        @staticmethod
        def fromtimestamp(time_s: float, tz: Any) -> Any:
            worked.append(time_s)
            return real.fromtimestamp(time_s, tz=tz)

    monkeypatch.setattr(timefmt, "datetime", Counting)
    time_s = 1_765_084_311.0 + 0.001 * (1 + id(worked) % 997)  # a time no other test wrote, not a whole second
    assert {format_utc(time_s) for _ in range(4)} == {
        f"{real.fromtimestamp(time_s, tz=UTC):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"
    }
    assert worked == [time_s]
    assert format_utc(0.0) == format_utc(-0.0) == format_utc(0) == "1970-01-01T00:00:00Z"
    with pytest.raises(ValueError, match="not a finite time"):
        format_utc(math.nan)
