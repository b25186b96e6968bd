"""A party's record export streams one at a time: each reads the whole record (a chunk at a time, its
memory bounded, its work the record's length), and any party could have its
``max_requests_in_flight_per_party`` of them reading at once, again and again. Another export of the
same party while one streams is refused (429, ``Retry-After``) before the store is read; another
party's is not; once the stream ends, however it ends, the party may export again."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from apisupport import Service

from keepclear.ledger.export import ExportText


def _metrics(service: Service) -> dict[str, int]:
    with service.client("admin") as admin:
        counters = admin.get("/v1/metrics").json()["counters"]
    return {k: counters[k] for k in ("record_exports_streaming", "record_exports_refused_busy_total")}


def test_a_party_s_second_export_waits_for_its_first_to_end(service: Service, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = service.runtime.ledger
    export_text = ledger.export_text
    hold = threading.Event()

    def held(*, for_party: str | None = None) -> ExportText:
        text = export_text(for_party=for_party)

        def pieces() -> Iterator[str]:
            first = True
            for piece in text:
                yield piece
                if first and not hold.is_set():
                    first = False
                    hold.wait(30)

        return ExportText(text.entries, pieces())

    monkeypatch.setattr(ledger, "export_text", held)
    before = _metrics(service)["record_exports_refused_busy_total"]
    with service.client("a-liaison") as a, service.client("b-liaison") as b:
        with a.stream("GET", "/v1/record/export") as first:
            assert first.status_code == 200
            chunks = first.iter_raw()
            next(chunks)  # its first piece sent: it streams, held
            again = a.get("/v1/record/export")
            assert again.status_code == 429 and int(again.headers["Retry-After"]) >= 1
            assert "one export at a time" in again.json()["detail"]
            assert _metrics(service) == {"record_exports_streaming": 1, "record_exports_refused_busy_total": before + 1}
            hold.set()
            other = b.get("/v1/record/export")  # another party's export is its own
            assert other.status_code == 200 and other.json()["for_party"] == "b"
            for _ in chunks:  # to its end
                pass
        after = a.get("/v1/record/export")
        assert after.status_code == 200 and after.json()["for_party"] == "a"
        hold.clear()
        with a.stream("GET", "/v1/record/export") as dropped:  # a client gone mid-stream
            next(dropped.iter_raw())
        hold.set()
        for _ in range(50):
            if _metrics(service)["record_exports_streaming"] == 0:
                break
            threading.Event().wait(0.1)
        assert a.get("/v1/record/export").status_code == 200
    assert _metrics(service)["record_exports_streaming"] == 0
