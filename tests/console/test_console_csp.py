"""The console and the incident report under their Content-Security-Policy, in a real browser: the
pages work without a single violation (the map, its symbols, every panel, the report opened from
the console), and a party's text in the report is shown as text, never run."""

from __future__ import annotations

import time
from typing import Any

import httpx
from consolesupport import Service, shot, sign_in
from test_console_browser import feeding

#: Records each violation the page reports (installed before any of the page's own scripts run).
WATCH = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} ${e.blockedURI} ${e.sample || ""}`);
});
"""
#: A party's hostile incident summary and account: script as an element, as a handler, as a URL.
HOSTILE = (
    '<script>window.__pwned = "script"</script><img src=x onerror="window.__pwned = \'img\'">'
    "<a href=\"javascript:window.__pwned='link'\">x</a></td></tr></table><style>body{display:none}</style>"
)


def _watch(page: Any) -> list[str]:
    """From now on, what the pages of ``page``'s context say about the policy (its violations, and
    the browser's own console lines about it), as a list that grows."""
    lines: list[str] = []
    page.context.add_init_script(WATCH)
    page.context.on("console", lambda message: lines.append(message.text))
    return lines


def _violations(page: Any, lines: list[str]) -> list[str]:
    found: list[str] = list(page.evaluate("() => window.__violations || []"))
    return found + [line for line in lines if "Content Security Policy" in line or "Content-Security-Policy" in line]


def test_the_console_runs_under_its_policy_without_a_violation(service: Service, pages: dict[str, Any]) -> None:
    page = pages["a"]
    lines = _watch(page)
    with feeding(service, stop_after_s=10, converging=False, parties=("a",)):
        sign_in(page, service.url, service.keys["a-liaison"])
        page.wait_for_function(
            "() => window.keepclear.app.map.map.loaded() && window.keepclear.app.map.map.areTilesLoaded()"
        )
        page.wait_for_function(  # the units' symbols are drawn (milsymbol's images in the map's sprite)
            "() => window.keepclear.app.map.map.querySourceFeatures('tracks').some(f => f.properties.callsign === 'ALPHA1')",
            timeout=10_000,
        )
    for tab in ("hotline", "units", "record", "proposals", "activities"):
        page.click(f"#tab-{tab}")
        page.locator(f"#panel-{tab}").wait_for(state="visible")
    page.wait_for_timeout(500)
    shot(page, "csp-console")
    assert _violations(page, lines) == []
    assert page.errors == []


def test_the_report_opened_from_the_console_shows_a_partys_markup_as_text(
    service: Service, pages: dict[str, Any]
) -> None:
    a = pages["a"]
    lines = _watch(a)  # the report's tab too: it opens in the same context
    sign_in(a, service.url, service.keys["a-liaison"])
    incident = service.runtime.incidents.report("a", time_s=time.time() - 60, summary=HOSTILE, parties=["b"])
    service.runtime.incidents.add_account(incident.id, "a", HOSTILE)
    a.click("#tab-record")
    row = f"#incidents-list li[data-incident='{incident.id}']"
    a.locator(row).wait_for(timeout=5_000)
    a.click(f"{row} button")
    with a.context.expect_page() as opened:
        a.click("#incident-report")
    report = opened.value
    report.wait_for_load_state()
    shot(report, "csp-report")
    assert report.evaluate("() => window.__pwned") is None
    planted = "script, body style, [onerror], a[href]"
    assert report.evaluate(f"() => document.querySelectorAll('{planted}').length") == 0
    text = report.evaluate("() => document.body.innerText")
    assert text.count(HOSTILE) == 2, text  # the summary and the account, shown as text
    assert report.evaluate("() => getComputedStyle(document.querySelector('table')).borderCollapse") == "collapse"
    assert _violations(report, lines) == []  # its style block is allowed by hash; nothing else was tried
    assert _violations(a, []) == []


def test_every_html_answer_carries_a_strict_policy_and_every_answer_the_other_headers(service: Service) -> None:
    incident = service.runtime.incidents.report("a", time_s=time.time() - 60, summary=HOSTILE, parties=["b"])
    with httpx.Client(base_url=service.url) as client:
        key = {"Authorization": f"Bearer {service.keys['a-liaison']}"}
        answers = {
            "console": client.get("/"),
            "report": client.get(f"/v1/incidents/{incident.id}/report", headers=key),
            "docs": client.get("/docs"),
        }
        for name, answer in answers.items():
            assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html"), name
            policy = dict(d.partition(" ")[::2] for d in answer.headers["content-security-policy"].split("; "))
            assert policy["frame-ancestors"] == "'none'" and policy["base-uri"] == "'none'", (name, policy)
            assert policy["form-action"] == "'none'", (name, policy)
            assert "'unsafe-inline'" not in policy["script-src" if "script-src" in policy else "default-src"], name
            assert "'unsafe-eval'" not in answer.headers["content-security-policy"], name
        assert answers["report"].headers["content-security-policy"].startswith("default-src 'none';")
        assert "<script" not in answers["report"].text and "&lt;script&gt;" in answers["report"].text
        others = [
            client.get("/v1/health"),
            client.get("/static/js/app.js"),
            client.get("/v1/parties"),  # 401: a refusal carries them too
            client.get("/v1/nothing-here"),
            client.get("/openapi.json"),
            client.get("/docs/assets/swagger-ui-bundle.js"),
            client.get(f"/v1/incidents/{incident.id}", headers=key),
        ]
        for answer in [*answers.values(), *others]:
            assert answer.headers["x-content-type-options"] == "nosniff", answer.url
            assert answer.headers["referrer-policy"] == "no-referrer", answer.url


def test_the_api_documentation_renders_from_the_service_alone_under_its_policy(
    service: Service, pages: dict[str, Any]
) -> None:
    """``/docs`` is Swagger UI from the installed package: every operation is drawn, nothing is asked
    of another origin (a deployment without the internet, and no outside script on the console's
    origin), no violation. FastAPI's CDN pages (``/redoc`` too) are gone."""
    page = pages["a"]
    lines = _watch(page)
    asked: list[str] = []
    page.context.on("request", lambda request: asked.append(request.url))
    page.goto(service.url + "/docs")
    page.locator(".opblock-summary-path").first.wait_for(timeout=15_000)
    paths = page.evaluate("() => [...document.querySelectorAll('.opblock-summary-path')].map(e => e.dataset.path)")
    assert "/v1/activities" in paths and "/v1/hotline/threads" in paths, paths
    assert [url for url in asked if not url.startswith(service.url)] == []
    assert _violations(page, lines) == []
    assert page.errors == []
    with httpx.Client(base_url=service.url) as client:
        for gone in ("/redoc", "/docs/oauth2-redirect", "/docs/assets/swagger-editor.js", "/docs/assets/LICENSE"):
            assert client.get(gone).status_code == 404, gone
