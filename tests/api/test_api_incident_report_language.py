"""GET /v1/incidents/{id}/report in the reader's language: the party's (b reads Russian), ``?lang=``
over it, Accept-Language for a reader without a party."""

from __future__ import annotations

import time

from apisupport import Service


def test_the_incident_report_is_in_the_readers_language(service: Service) -> None:
    incident = service.runtime.incidents.report(
        "a", time_s=time.time() - 60, summary="ALPHA1 and BRAVO1 passed close", unit_ids=["ua"], parties=["b"]
    )
    path = f"/v1/incidents/{incident.id}/report"
    with service.client("b-liaison") as b:
        russian = b.get(path)
        assert russian.status_code == 200, russian.text
        assert '<html lang="ru">' in russian.text and "Хронология" in russian.text
        english = b.get(path, params={"lang": "en"}).text
        assert '<html lang="en">' in english and "Timeline" in english
    with service.client("a-liaison") as a:
        assert "Timeline" in a.get(path).text
        assert "Хронология" in a.get(path, params={"lang": "ru"}).text
    with service.client("admin") as admin:
        assert "Хронология" in admin.get(path, headers={"Accept-Language": "ru-RU,ru;q=0.9"}).text
        assert "Timeline" in admin.get(path).text


def test_languages_asked_for_leave_nothing_behind(service: Service) -> None:
    """Each language tag a report was asked in (``?lang=``, every tag of Accept-Language) was kept
    for good, as was its base tag, in an unbounded cache, files or none: a reader sending made-up
    tags grew the service's memory without end. Now only the languages that have words are read and
    kept; any other is English, as before."""
    from keepclear.services.reports import words

    incident = service.runtime.incidents.report("a", time_s=time.time() - 60, summary="close", unit_ids=["ua"])
    path = f"/v1/incidents/{incident.id}/report"
    with service.client("a-liaison") as a, service.client("admin") as admin:
        assert '<html lang="ru">' in a.get(path, params={"lang": "ru"}).text
        held = words._file_table.cache_info().currsize
        for n in range(40):
            asked = a.get(path, params={"lang": f"q{n}-zz"})
            assert asked.status_code == 200 and '<html lang="en">' in asked.text
            tags = ",".join(f"x{n}-t{i:03d}" for i in range(40))  # no party: its Accept-Language
            accepted = admin.get(path, headers={"Accept-Language": tags})
            assert accepted.status_code == 200 and '<html lang="en">' in accepted.text
    assert words._file_table.cache_info().currsize == held


def test_a_party_s_control_characters_reach_no_report_page(service: Service) -> None:
    """A party's text (a summary, an account) may hold control characters a message allows (ESC,
    U+000B, C1): HTML text may not, and a terminal or a parser reading the page may act on them.
    The report writes each as U+FFFD, escaped text as before."""
    incident = service.runtime.incidents.report(
        "a",
        time_s=time.time() - 60,
        summary="close pass\x1b[2J\x0bthen \x85 <b>bold</b>",
        unit_ids=["ua"],
        parties=["b"],
    )
    with service.client("b-liaison") as b:
        page = b.get(f"/v1/incidents/{incident.id}/report")
    assert page.status_code == 200, page.text
    assert "close pass\ufffd[2J\ufffdthen \ufffd &lt;b&gt;bold&lt;/b&gt;" in page.text
    assert not any(ch in page.text for ch in "\x1b\x0b\x85"), repr(page.text[:200])
