"""A long strategic check holds nobody else's notification, on a real server on SQLite and PostgreSQL:
the pairs are judged before the activity write lock is taken."""

from __future__ import annotations

import threading
import time
from typing import Any

import httpx
from apisupport import Service
from test_api_activities import air_operation
from test_input_hardening_hostile import _route

#: b's zigzag over a's 100 alike zigzags: 19,900 pairs judged exactly, just under the default budget
#: of 20,000 (about a second where an idle core judges one in 50 µs; several on a busy machine).
ZIGZAG = [(35.0 + 0.05 * (i % 2), 40.0 + 0.002 * i) for i in range(40)]
ROUTES = 100


def test_a_notification_is_answered_while_another_partys_costly_check_runs(store_service: Service) -> None:
    """a's simple notification, sent while b's costly one is being checked, is answered before b's check
    is over (with the check under the lock it waited for all of it); b's is then answered with all
    of its conflicts."""
    checked_s: list[float] = []  # when b's check before the lock ended (monotonic)
    activities = store_service.runtime.activities
    activities.between_check_and_write = lambda: checked_s.append(time.monotonic())
    answers: dict[str, tuple[float, httpx.Response]] = {}
    with store_service.client("a-liaison") as a, store_service.client("b-liaison") as b:
        batch = {"activities": [{**_route(2000, *ZIGZAG), "id": f"a-zigzag-{k}"} for k in range(ROUTES)]}
        stored = a.post("/v1/activities/batch", json=batch)
        assert stored.status_code == 201, stored.text
        checked_s.clear()
        costly: dict[str, Any] = {**_route(2000, *ZIGZAG[::-1]), "addressees": ["a"], "units": ["ub"]}

        def post_costly() -> None:
            answer = b.post("/v1/activities", json=costly)
            answers["b"] = (time.monotonic(), answer)

        sent = threading.Thread(target=post_costly)
        sent.start()
        time.sleep(0.3)  # b's request in its check (it takes seconds)
        far = air_operation(id="a-far")  # nowhere near b's
        simple = a.post("/v1/activities", json=far)
        answers["a"] = (time.monotonic(), simple)
        sent.join(120)
    a_at, a_answer = answers["a"]
    b_at, b_answer = answers["b"]
    assert a_answer.status_code == 201, a_answer.text
    assert b_answer.status_code == 201, b_answer.text
    # answered before b's check (before its lock) was over; with the check under the lock, a's waited
    # for all of it (5.1 s where b's took 5.5 s on a busy machine, against 0.08 s now)
    assert checked_s and a_at < checked_s[-1] < b_at
    assert len(b_answer.json()["conflicts"]) == ROUTES
