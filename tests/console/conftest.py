"""Browser fixtures: one real service and one chromium per module, a fresh context per party per test."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from consolesupport import CHROMIUM, CHROMIUM_ARGS, Service, chromium_available, running_service, shot

playwright_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    with running_service(tmp_path_factory.mktemp("console") / "data") as svc:
        yield svc


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not chromium_available():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-browser.sh")
    with playwright_api.sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def pages(browser: Any, request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A page per party in separate browser contexts (separate storage), at the viewport the test asks."""
    marker = request.node.get_closest_marker("viewport")
    width, height = marker.args if marker else (1280, 800)
    contexts = []
    out: dict[str, Any] = {}
    for name in ("a", "b"):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        page = context.new_page()
        page.errors = []  # type: ignore[attr-defined]
        page.on("pageerror", lambda error, page=page: page.errors.append(str(error)))
        out[name] = page
    yield out
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:  # keep what each page showed when the test failed
        for name, page in out.items():
            with contextlib.suppress(Exception):
                shot(page, f"FAILED-{request.node.name}-{name}")
    for context in contexts:
        context.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "viewport(width, height): browser viewport of the pages fixture")
