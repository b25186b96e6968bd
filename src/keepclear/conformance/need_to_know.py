"""Need to know: what naming another party's object answers, and role limits (what each party's keys
are shown: ``need_to_know_reads``).

Naming: a request that names another party's object must answer exactly as one naming a made-up id
(status, content type, problem type, title, detail, errors: the id itself replaced).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import httpx

from keepclear.conformance.bodies import ADMIN_ROUTES, valid_request
from keepclear.conformance.client import (
    Who,
    answer_shape,
    feed,
    is_problem,
    liaison,
    operations,
    shape_difference,
    sibling_id,
)
from keepclear.conformance.registry import Check, Result, failed, judge, passed
from keepclear.conformance.world import World, utc

GROUP = "need-to-know"


def party_keys(w: World) -> list[Who]:
    """Every key of every party of ``w`` but the admin's: liaison, observer and feed."""
    return [Who(p, r) for p in w.parties for r in ("liaison", "observer", "feed")]


def _compare(
    name: str,
    foreign: httpx.Response,
    madeup: httpx.Response,
    foreign_id: str,
    madeup_id: str,
    *,
    creates: bool = False,
) -> Result:
    """PASS when naming ``foreign_id`` answered exactly as naming ``madeup_id``; for a request that
    ``creates`` an object, two acceptances are alike (each answer is the caller's own new object)."""
    if creates and foreign.is_success and madeup.is_success:
        return passed(name, f"{foreign.status_code} for both")
    difference = shape_difference(answer_shape(foreign, foreign_id), answer_shape(madeup, madeup_id))
    if difference is None:
        return passed(name, f"{foreign.status_code} for both")
    return failed(name, f"{foreign.request.method} {foreign.request.url.path}: {difference}")


# --- naming another party's objects ------------------------------------------------------------------


def alert_acknowledge(w: World) -> Iterator[Result]:
    """c acknowledges the a–b alert, and a made-up alert."""
    assert w.alert_id is not None
    c = w.api.client(liaison(w.c))
    other = sibling_id(w.alert_id)
    yield _compare(
        f"{GROUP}.name:alert-acknowledge",
        c.post(f"/v1/alerts/{w.alert_id}/acknowledge"),
        c.post(f"/v1/alerts/{other}/acknowledge"),
        w.alert_id,
        other,
    )


def _incident_naming(w: World, field: str, foreign: str, label: str) -> Iterator[Result]:
    c = w.api.client(liaison(w.c))
    madeup = sibling_id(foreign)
    answers = {}
    for which, value in (("foreign", foreign), ("made-up", madeup)):
        body = {"time": utc(time.time() - 60), "summary": f"{w.run_id} names {which} {label}", field: [value]}
        answers[which] = c.post("/v1/incidents", json=body)
        if answers[which].status_code < 300:
            w.to_close.append((w.c, answers[which].json().get("id", "")))
    base = f"{GROUP}.name:incident-{field}"
    for which, value in (("foreign", foreign), ("made-up", madeup)):
        response = answers[which]
        if response.status_code < 300:
            yield failed(
                f"{base}:{which}-refused",
                f"{w.c}/liaison POST /v1/incidents naming {which} {label} {value} was accepted "
                f"({response.status_code}, incident {response.json().get('id')})",
            )
        else:
            problem = is_problem(response)
            yield judge(f"{base}:{which}-refused", [problem] if problem else [], f"{response.status_code}")
    yield _compare(f"{base}:indistinguishable", answers["foreign"], answers["made-up"], foreign, madeup, creates=True)


def incident_alert_ids(w: World) -> Iterator[Result]:
    """c reports an incident naming the a–b alert (class 1), and a made-up alert (class 3)."""
    assert w.alert_id is not None
    yield from _incident_naming(w, "alert_ids", w.alert_id, "the a-b alert")


def incident_unit_ids(w: World) -> Iterator[Result]:
    """c reports an incident naming a's unit, and a made-up unit."""
    yield from _incident_naming(w, "unit_ids", w.units[w.a][1], "a's unit")


def _post_naming(w: World, name: str, path: str, foreign: str, body: dict[str, Any]) -> Result:
    """c's liaison POSTs ``body`` to ``path`` (``{}`` the id) naming ``foreign``, then a made-up sibling."""
    c = w.api.client(liaison(w.c))
    madeup = sibling_id(foreign)
    first, second = c.post(path.format(foreign), json=body), c.post(path.format(madeup), json=body)
    return _compare(name, first, second, foreign, madeup)


def activity_actions(w: World) -> Iterator[Result]:
    """c acts on a's activity addressed to b only, and on a made-up activity."""
    document = {k: v for k, v in w.activity_document(w.c, "c9", [w.a]).items() if k != "id"}
    for action, body in (
        ("acknowledge", {"version": 1}),
        ("object", {"version": 1, "reason": "conformance"}),
        ("amend", {"version": 1, "activity": document}),
        ("activate", {"version": 1}),
        ("complete", {"version": 1}),
        ("cancel", {"version": 1, "reason": "conformance"}),
    ):
        path = "/v1/activities/{}/" + action
        yield _post_naming(w, f"{GROUP}.name:activity-{action}", path, w.activities[w.activity_id(w.a, "a1")], body)


def activity_id_taken(w: World) -> Iterator[Result]:
    """c notifies an activity (alone, then in a batch) whose id is a's activity's, and one whose id
    is a made-up sibling: answered alike (a 409 "already exists" for a's id alone would tell c that a
    has an activity of that id)."""
    c = w.api.client(liaison(w.c))
    foreign = w.activities[w.activity_id(w.a, "a1")]
    madeup = sibling_id(foreign)
    document = {k: v for k, v in w.activity_document(w.c, "c8", [w.a]).items() if k != "id"}
    for form, path, body in (
        ("alone", "/v1/activities", lambda i: {**document, "id": i}),
        ("batch", "/v1/activities/batch", lambda i: {"activities": [{**document, "id": i}]}),
    ):
        answers = {ident: c.post(path, json=body(ident)) for ident in (foreign, madeup)}
        for answer in answers.values():  # a deployment that took one: cancelled at the end like the rest
            if answer.is_success:
                made = answer.json()
                for one in made.get("activities", [made]):
                    w.to_cancel.append((w.c, one["activity"]["id"]))
        yield _compare(
            f"{GROUP}.name:activity-id-{form}", answers[foreign], answers[madeup], foreign, madeup, creates=True
        )


def thread_actions(w: World) -> Iterator[Result]:
    """c posts into, and marks read, the a–b thread, and a made-up thread."""
    for action, suffix, body in (
        ("post", "messages", {"kind": "text", "body": w.name("intrusion"), "idempotency_key": w.name("intrude")}),
        ("read", "read", {"through_seq": 1}),
    ):
        path = "/v1/hotline/threads/{}/" + suffix
        yield _post_naming(w, f"{GROUP}.name:thread-{action}", path, w.threads[f"{w.a}-{w.b}"], body)


def incident_actions(w: World) -> Iterator[Result]:
    """c writes an account on, and reviews, a's incident with b, and a made-up incident."""
    for action, body in (("accounts", {"text": w.name("account")}), ("review", {"status": "disputed", "note": ""})):
        path = "/v1/incidents/{}/" + action
        yield _post_naming(w, f"{GROUP}.name:incident-{action}", path, w.incidents["a"], body)


def track_foreign_unit(w: World) -> Iterator[Result]:
    """c's feed reports a position for a's unit, and for a made-up unit: refused alike."""
    c = w.api.client(feed(w.c))
    foreign = w.units[w.a][1]
    madeup = sibling_id(foreign)

    def report(unit_id: str) -> httpx.Response:
        body = {**w.reports[w.units[w.c][1]], "unit_id": unit_id, "time": utc(time.time())}
        return c.post("/v1/tracks", json={"reports": [body]})

    yield _compare(f"{GROUP}.name:track-foreign-unit", report(foreign), report(madeup), foreign, madeup)


# --- roles --------------------------------------------------------------------------------------------


def _refused_to_role(w: World, role: str, routes: list[tuple[str, str]]) -> Iterator[tuple[str, str, list[str]]]:
    """Send each route's valid request with ``role``'s key of every party: (method, path, what was not a 403)."""
    for method, path in routes:
        request = valid_request(w, method, path)
        concrete = request.path if request else re.sub(r"{[^}]+}", w.name("x"), path)
        body = request.body if request else None
        problems = []
        for party in w.parties:
            response = w.api.client(Who(party, role)).request(method, concrete, json=body)
            if response.status_code != 403 or is_problem(response):
                problems.append(f"{party}/{role} {method} {concrete} answered {response.status_code}")
        yield method, path, problems


def observer_writes_nothing(w: World) -> Iterator[Result]:
    """Every write route refuses every party's observer key with 403 (valid bodies, the run's objects)."""
    document = w.api.openapi()
    routes = [(m, path) for m in ("POST", "PUT", "PATCH", "DELETE") for path, _ in operations(document, m)]
    for method, path, problems in _refused_to_role(w, "observer", routes):
        yield judge(f"{GROUP}.role:observer-writes-nothing:{method} {path}", problems, "403 for every observer")


def liaison_no_admin(w: World) -> Iterator[Result]:
    """The admin routes refuse every party's liaison key with 403."""
    for method, path, problems in _refused_to_role(w, "liaison", sorted(ADMIN_ROUTES)):
        yield judge(f"{GROUP}.role:liaison-no-admin:{method} {path}", problems, "403 for every liaison")


def feed_reads_only_its_units(w: World) -> Iterator[Result]:
    """A feed lists its own party's units and nothing else; it reads no tracks, alerts or activities."""
    problems = []
    for party in w.parties:
        client = w.api.client(feed(party))
        units = client.get("/v1/units")
        if units.status_code == 200:
            foreign = [u.get("id") for u in units.json() if u.get("party_id") != party]
            if foreign:
                problems.append(f"{party}/feed GET /v1/units lists units of other parties: {foreign[:5]}")
        for path in ("/v1/tracks", "/v1/alerts", "/v1/activities", "/v1/hotline/threads", "/v1/incidents"):
            status = client.get(path).status_code
            if status != 403:
                problems.append(f"{party}/feed GET {path} answered {status}, not 403")
    yield judge(f"{GROUP}.role:feed-reads-only-its-units", problems)


NAMING = [
    Check(GROUP, "name:alert-acknowledge", alert_acknowledge),
    Check(GROUP, "name:incident-alert_ids", incident_alert_ids),
    Check(GROUP, "name:incident-unit_ids", incident_unit_ids),
    Check(GROUP, "name:activity", activity_actions),
    Check(GROUP, "name:activity-id", activity_id_taken),
    Check(GROUP, "name:thread", thread_actions),
    Check(GROUP, "name:incident", incident_actions),
    Check(GROUP, "name:track-foreign-unit", track_foreign_unit),
    Check(GROUP, "role:observer-writes-nothing", observer_writes_nothing),
    Check(GROUP, "role:liaison-no-admin", liaison_no_admin),
    Check(GROUP, "role:feed-reads-only-its-units", feed_reads_only_its_units),
]
