"""A warning repeated many times a second is logged once per interval, saying how many were held back."""

from __future__ import annotations

import logging

import pytest

from keepclear.services.runtime.log_every import RepeatedWarning


def test_a_repeated_warning_is_logged_once_an_interval_with_how_many_were_held_back(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now_s = [100.0]
    warn = RepeatedWarning(logging.getLogger("keepclear.test"), interval_s=10.0, clock=lambda: now_s[0])
    with caplog.at_level(logging.WARNING, logger="keepclear.test"):
        for k in range(50):  # 5 s of a failure every 0.1 s
            warn("fetch failed: %s", k)
            now_s[0] += 0.1
        assert [r.getMessage() for r in caplog.records] == ["fetch failed: 0"]
        now_s[0] = 110.0
        warn("fetch failed: %s", "again")
        now_s[0] = 125.0
        warn("fetch failed: %s", "later")
    assert [r.getMessage() for r in caplog.records] == [
        "fetch failed: 0",
        "fetch failed: again (49 more like it in the last 10 s not logged)",
        "fetch failed: later",
    ]
    assert all(r.levelno == logging.WARNING for r in caplog.records)
