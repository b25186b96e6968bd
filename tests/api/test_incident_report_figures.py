"""The incident report's map figure is drawn once for each frozen evidence and language, whoever reads
it: before, every ``GET /v1/incidents/{id}/report`` drew it again (up to 0.8 s of CPU, matplotlib),
and any involved party could ask again and again. The figures kept stay within their bound, and a
party's figures are drawn one at a time."""

from __future__ import annotations

import threading
import time

from apisupport import Service

from keepclear.domain.incidents import Incident, IncidentKind, ReviewStatus
from keepclear.domain.tracks import TrackReport
from keepclear.services.incidents.evidence import document_text
from keepclear.services.reports.figure_cache import ReportFigures
from keepclear.store import incidents as incidents_store


def _frozen(service: Service, summary: str) -> Incident:
    """An incident a reports involving b, its evidence frozen with a track of a's unit."""
    incidents = service.runtime.incidents
    incident = incidents.report("a", time_s=time.time() - 60, summary=summary, unit_ids=["ua"], parties=["b"])
    t0 = incident.time_s
    tracks = [TrackReport("ua", t0 + dt, 35.0 + 0.0001 * dt, 40.0, 3000.0, 100.0, 0.0) for dt in range(-300, 300, 10)]
    text, digest = document_text(incident, tracks, [], [], t0 - 600, t0 + 600)
    with service.deployment.db.write() as conn:
        incidents_store.freeze_evidence(conn, incident.id, digest, text, time.time())
    return incidents.get(incident.id)


def _drawn(service: Service) -> int:
    with service.client("admin") as admin:
        return int(admin.get("/v1/metrics").json()["counters"]["incident_report_figures_drawn_total"])


def test_a_frozen_report_s_map_is_drawn_once_a_language_whoever_reads_it(service: Service) -> None:
    incident = _frozen(service, "ALPHA1 passed close")
    path = f"/v1/incidents/{incident.id}/report"
    before = _drawn(service)
    pages = []
    with service.client("b-liaison") as b, service.client("a-liaison") as a, service.client("admin") as admin:
        for client, params in ((b, {}), (b, {}), (a, {"lang": "ru"}), (admin, {"lang": "ru"})):
            answer = client.get(path, params=params)
            assert answer.status_code == 200, answer.text
            assert '<html lang="ru">' in answer.text and "data:image/png;base64," in answer.text
            pages.append(answer.text)
        assert _drawn(service) == before + 1  # b's Russian report, drawn once for every reader
        english = a.get(path)
        assert '<html lang="en">' in english.text and "data:image/png;base64," in english.text
        assert a.get(path).text.count("data:image/png") == 1
    assert _drawn(service) == before + 2  # English once more
    figure = {page.split('src="data:image/png;base64,')[1].split('"')[0] for page in pages}
    assert len(figure) == 1  # the same figure in each reader's report


def test_a_report_not_frozen_draws_and_keeps_nothing(service: Service) -> None:
    incident = service.runtime.incidents.report(
        "a", time_s=time.time() - 60, summary="close", unit_ids=["ua"], parties=["b"]
    )
    before, kept = _drawn(service), service.runtime.report_figures.kept
    with service.client("b-liaison") as b:
        for _ in range(3):
            answer = b.get(f"/v1/incidents/{incident.id}/report")
            assert answer.status_code == 200 and "data:image/png" not in answer.text
    assert _drawn(service) == before and service.runtime.report_figures.kept == kept


def _incident(n: int) -> Incident:
    return Incident(
        f"inc-{n}", IncidentKind.REPORTED, ReviewStatus.OPEN, 0.0, 0.0, "a", ("a",), (), (), None, None, "",
        evidence_sha256=f"{n:064x}",
    )  # fmt: skip


def test_the_figures_kept_stay_within_their_bytes_least_recently_used_out_first() -> None:
    figures = ReportFigures(max_bytes=10_000)
    drawn: list[str] = []

    def draw(n: int, size: int = 3_000) -> bytes:
        drawn.append(f"inc-{n}")
        return bytes(size)

    for n in range(10):
        figures.png(_incident(n), "en", "a", lambda n=n: draw(n))
        assert figures.bytes_held <= 10_000
    assert figures.kept == 3 and figures.bytes_held == 9_000 and figures.drawn_total == 10
    figures.png(_incident(9), "en", "b", lambda: draw(99))  # kept: not drawn again, for any reader
    figures.png(_incident(7), "en", "b", lambda: draw(77))
    assert drawn[-1] == "inc-9" and figures.drawn_total == 10
    figures.png(_incident(0), "en", "a", lambda: draw(0))  # dropped: drawn again, 8 out (least recent)
    figures.png(_incident(9), "en", "a", lambda: draw(99))
    figures.png(_incident(8), "en", "a", lambda: draw(8))
    assert drawn[-2:] == ["inc-0", "inc-8"] and figures.kept == 3
    figures.png(_incident(1), "ru", "a", lambda: draw(1, 20_000))  # larger than the bound: not kept
    assert figures.kept == 3 and figures.bytes_held == 9_000


def test_a_party_s_figures_are_drawn_one_at_a_time_and_once() -> None:
    figures = ReportFigures()
    lock = threading.Lock()
    drawing = {"now": 0, "most": 0, "drawn": 0}

    def draw() -> bytes:
        with lock:
            drawing["now"] += 1
            drawing["most"] = max(drawing["most"], drawing["now"])
            drawing["drawn"] += 1
        time.sleep(0.05)
        with lock:
            drawing["now"] -= 1
        return b"png"

    asks = [threading.Thread(target=figures.png, args=(_incident(n % 2), "en", "a", draw)) for n in range(8)]
    for ask in asks:
        ask.start()
    for ask in asks:
        ask.join()
    assert drawing == {"now": 0, "most": 1, "drawn": 2}
