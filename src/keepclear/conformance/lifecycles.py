"""Lifecycles: activity versions, ordered gapless hotline sequences, idempotent retries.

Every POST takes an ``Idempotency-Key`` header (docs/api.md); hotline posts also take the key in
the body (HTTP and WebSocket). Over HTTP a retry gets the original answer byte for byte.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

from keepclear.conformance.client import get_all, is_problem, liaison
from keepclear.conformance.registry import Check, Result, judge
from keepclear.conformance.world import World

GROUP = "lifecycle"
POSTS_PER_PARTY = 5
#: Copies of one post sent at once by the concurrent-retry check.
RETRIES = 4


def activity_versions(w: World) -> Iterator[Result]:
    """Every change names the version it changes: amend makes version 2; a change naming version 1 is
    then refused with a problem that names the current version."""
    a, b = w.api.client(liaison(w.a)), w.api.client(liaison(w.b))
    document = w.activity_document(w.a, "lc1", [w.b])
    made = a.post("/v1/activities", json=document)
    if made.status_code != 201:
        yield judge(f"{GROUP}.activity:notify", [f"POST /v1/activities answered {made.status_code}: {made.text[:200]}"])
        return
    activity_id = made.json()["activity"].get("id", document["id"])
    w.to_cancel.append((w.a, activity_id))
    first = made.json()["activity"].get("version")
    yield judge(
        f"{GROUP}.activity:notify-is-version-1", [] if first == 1 else [f"the new activity has version {first}"]
    )
    body = {k: v for k, v in document.items() if k != "id"}
    body["text"] = f"{w.run_id} amended"
    amended = a.post(f"/v1/activities/{activity_id}/amend", json={"version": 1, "activity": body})
    version = amended.json().get("activity", {}).get("version") if amended.status_code == 200 else None
    yield judge(
        f"{GROUP}.activity:amend-makes-next-version",
        [] if version == 2 else [f"amend naming version 1 answered {amended.status_code}, version {version}"],
    )
    for action, client, payload in (
        ("amend", a, {"version": 1, "activity": body}),
        ("acknowledge", b, {"version": 1}),
        ("cancel", a, {"version": 1, "reason": "stale"}),
    ):
        response = client.post(f"/v1/activities/{activity_id}/{action}", json=payload)
        problems = []
        if response.status_code != 409:
            problems.append(f"{action} naming stale version 1 answered {response.status_code}, not 409")
        elif (problem := is_problem(response)) is not None:
            problems.append(problem)
        elif "2" not in json.dumps(response.json().get("current")) and "2" not in response.json().get("detail", ""):
            problems.append(f"{action}: the refusal does not name the current version 2: {response.text[:200]}")
        yield judge(f"{GROUP}.activity:stale-{action}-refused", problems, "409 naming version 2")
    view = b.get(f"/v1/activities/{activity_id}")
    seen = view.json().get("version") if view.status_code == 200 else None
    yield judge(
        f"{GROUP}.activity:addressee-sees-current-version",
        [] if seen == 2 else [f"{w.b} reads version {seen} ({view.status_code})"],
    )


def activity_acknowledged_version(w: World) -> Iterator[Result]:
    """An addressee acknowledges the current version (2, after an amend): accepted, and the notifier's
    view shows that acknowledgement under the addressee's party."""
    a, b = w.api.client(liaison(w.a)), w.api.client(liaison(w.b))
    document = w.activity_document(w.a, "lc3", [w.b])
    made = a.post("/v1/activities", json=document)
    problems: list[str] = []
    if made.status_code != 201:
        problems.append(f"POST /v1/activities answered {made.status_code}: {made.text[:200]}")
    else:
        activity_id = made.json()["activity"].get("id", document["id"])
        w.to_cancel.append((w.a, activity_id))
        body = {k: v for k, v in document.items() if k != "id"} | {"text": f"{w.run_id} lc3 amended"}
        amended = a.post(f"/v1/activities/{activity_id}/amend", json={"version": 1, "activity": body})
        acked = b.post(f"/v1/activities/{activity_id}/acknowledge", json={"version": 2})
        view = a.get(f"/v1/activities/{activity_id}").json()
        acks = [x for x in view.get("acknowledgements", []) if x.get("party") == w.b]
        if amended.status_code != 200 or acked.status_code != 200:
            problems.append(f"amend answered {amended.status_code}, {w.b}'s acknowledgement of v2 {acked.status_code}")
        elif view.get("version") != 2 or [x.get("state") for x in acks] != ["acknowledged"]:
            problems.append(f"{w.a} reads version {view.get('version')} with {w.b}'s acknowledgements {acks}")
    yield judge(f"{GROUP}.activity:addressee-acknowledges-current-version", problems)


def activity_status_lifecycle(w: World) -> Iterator[Result]:
    """notified -> active (activate) -> amended while active (version 2, still active) -> completed;
    a transition naming a stale version is refused, and a completed activity can be neither amended nor
    cancelled (409 problems). Transitions keep the version; the addressee reads every status."""
    a, b = w.api.client(liaison(w.a)), w.api.client(liaison(w.b))
    document = w.activity_document(w.a, "lc2", [w.b])
    made = a.post("/v1/activities", json=document)
    if made.status_code != 201:
        yield judge(f"{GROUP}.activity:status", [f"POST /v1/activities answered {made.status_code}: {made.text[:200]}"])
        return
    activity_id = made.json()["activity"].get("id", document["id"])
    w.to_cancel.append((w.a, activity_id))
    path = f"/v1/activities/{activity_id}"
    body = {k: v for k, v in document.items() if k != "id"} | {"text": f"{w.run_id} lc2 amended"}

    def seen() -> tuple[Any, Any]:
        view = b.get(path).json() if b.get(path).status_code == 200 else {}
        return view.get("status"), view.get("version")

    steps: list[tuple[str, Any, int, tuple[str, int] | None]] = [
        ("activate", {"version": 1, "reason": ""}, 200, ("active", 1)),
        ("amend", {"version": 1, "activity": body}, 200, ("active", 2)),
        ("complete", {"version": 1, "reason": ""}, 409, None),
        ("complete", {"version": 2, "reason": ""}, 200, ("completed", 2)),
        ("amend", {"version": 2, "activity": body}, 409, None),
        ("cancel", {"version": 2, "reason": "too late"}, 409, None),
    ]
    for n, (action, payload, status, expect) in enumerate(steps):
        response = a.post(f"{path}/{action}", json=payload)
        problems = []
        if response.status_code != status:
            problems.append(
                f"{action} naming version {payload['version']} answered {response.status_code}, not {status}"
            )
        elif status >= 400 and (problem := is_problem(response)) is not None:
            problems.append(problem)
        elif expect is not None and (got := seen()) != expect:
            problems.append(f"{w.b} then reads status and version {got}, not {expect}")
        yield judge(f"{GROUP}.activity:status-{n + 1}-{action}-v{payload['version']}", problems, f"{status}")


def _post(client: Any, thread: str, body: str, key: str) -> Any:
    return client.post(
        f"/v1/hotline/threads/{thread}/messages", json={"kind": "text", "body": body, "idempotency_key": key}
    )


def hotline_sequences(w: World) -> Iterator[Result]:
    """Posts of two parties at once into one thread: every post gets its own number, and the thread reads
    back 1, 2, 3... without gap, in the order of the numbers, each body under the number it was given."""
    thread = w.threads[f"{w.a}-{w.b}"]
    given: dict[int, str] = {}
    problems: list[str] = []
    lock = threading.Lock()

    def poster(party: str) -> None:
        client = w.api.client(liaison(party))
        for i in range(POSTS_PER_PARTY):
            text = f"{w.run_id} seq {party} {i}"
            response = _post(client, thread, text, w.name(f"seq-{party}-{i}"))
            with lock:
                if response.status_code != 201:
                    problems.append(f"{party} post {i} answered {response.status_code}")
                else:
                    seq = response.json()["message"]["seq"]
                    if seq in given:
                        problems.append(f"seq {seq} given to two posts")
                    given[seq] = text

    workers = [threading.Thread(target=poster, args=(p,)) for p in (w.a, w.b)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    read = w.api.client(liaison(w.b)).get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": 0})
    messages = read.json() if read.status_code == 200 else []
    seqs = [m["seq"] for m in messages]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append(f"the thread reads back seqs {seqs[:20]}, not 1..{len(seqs)}")
    bodies = {m["seq"]: m.get("body") for m in messages}
    problems += [
        f"seq {s} reads back {bodies.get(s)!r}, was given to {text!r}"
        for s, text in given.items()
        if bodies.get(s) != text
    ]
    yield judge(f"{GROUP}.hotline:concurrent-posts-gapless", problems, f"{len(given)} posts, {len(seqs)} messages")


def hotline_socket_order(w: World) -> Iterator[Result]:
    """a posts over its socket; b's socket receives them live, once each, in sequence order."""
    from websockets.sync.client import connect

    thread = w.threads[f"{w.a}-{w.b}"]
    base = w.api.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/hotline/ws"
    problems: list[str] = []

    def open_socket(party: str) -> Any:
        ws = connect(base, additional_headers={"Authorization": f"Bearer {w.api.key(liaison(party))}"}, open_timeout=10)
        ws.send(json.dumps({"type": "resume", "cursors": {}}))
        _frames_until(ws, lambda f: f.get("type") == "resumed")
        return ws

    try:
        with open_socket(w.a) as sender, open_socket(w.b) as receiver:
            refs = [f"{w.run_id}-ws-{i}" for i in range(POSTS_PER_PARTY)]
            for i, ref in enumerate(refs):
                sender.send(
                    json.dumps(
                        {
                            "type": "post",
                            "ref": ref,
                            "thread_id": thread,
                            "kind": "text",
                            "body": f"{w.run_id} ws {i}",
                            "idempotency_key": ref,
                        }
                    )
                )
            accepted = _frames_until(sender, lambda f: f.get("type") == "accepted" and f.get("ref") == refs[-1])
            seqs = [f["seq"] for f in accepted if f.get("type") == "accepted"]
            live = _frames_until(
                receiver,
                lambda f: (
                    f.get("type") == "message" and f["message"].get("body") == f"{w.run_id} ws {POSTS_PER_PARTY - 1}"
                ),
            )
            got = [
                f["message"]["seq"]
                for f in live
                if f.get("type") == "message" and f["message"].get("thread_id") == thread
            ]
            if seqs != sorted(seqs) or len(seqs) != POSTS_PER_PARTY:
                problems.append(f"accepted frames carry seqs {seqs}")
            mine = [s for s in got if s in seqs]
            if mine != seqs:
                problems.append(f"{w.b}'s socket received seqs {got}, expected {seqs} once each in order")
    except Exception as exc:  # the report names it
        problems.append(f"socket: {type(exc).__name__}: {exc}")
    yield judge(f"{GROUP}.hotline:socket-live-order", problems)


def _frames_until(ws: Any, stop: Any, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Frames (batches unpacked) until one satisfies ``stop``; TimeoutError after ``timeout_s``."""
    out: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        frame = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        for f in frame.get("frames", [frame]) if frame.get("type") == "batch" else [frame]:
            out.append(f)
            if stop(f):
                return out
    raise TimeoutError(f"the awaited frame did not come within {timeout_s} s")


def idempotent_retries(w: World) -> Iterator[Result]:
    """A retried post with the same idempotency key is answered as the original (status and body) and
    stores nothing; the same key with other content is refused (409 problem)."""
    thread = w.threads[f"{w.a}-{w.b}"]
    client = w.api.client(liaison(w.a))
    key = w.name("idem")
    first = _post(client, thread, f"{w.run_id} once", key)
    again = _post(client, thread, f"{w.run_id} once", key)
    problems = []
    if first.status_code != 201 or not first.json().get("created"):
        problems.append(f"the first post answered {first.status_code} {first.text[:200]}")
    elif (again.status_code, again.content) != (first.status_code, first.content):
        problems.append(f"the retry answered {again.status_code} {again.text[:200]}, the original {first.text[:200]}")
    else:
        listed = client.get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": 0}).json()
        copies = [m["seq"] for m in listed if m.get("idempotency_key") == key]
        if len(copies) != 1:
            problems.append(f"the thread holds {len(copies)} messages with the key (seqs {copies})")
    yield judge(f"{GROUP}.idempotency:hotline-retry-answers-original", problems)
    changed = _post(client, thread, f"{w.run_id} other content", key)
    problem = is_problem(changed)
    yield judge(
        f"{GROUP}.idempotency:hotline-key-reused-refused",
        [] if changed.status_code == 409 and problem is None else [problem or f"answered {changed.status_code}"],
    )


def activity_retries(w: World) -> Iterator[Result]:
    """A notification retried with the same ``Idempotency-Key`` (a client that got no answer) is
    answered as the original, byte for byte, and creates one activity, not a 409 clash; the same key
    on another notification is refused with a 409 problem."""
    a = w.api.client(liaison(w.a))
    document = w.activity_document(w.a, "lc-idem", [w.b])
    headers = {"Idempotency-Key": w.name("notify")}
    first = a.post("/v1/activities", json=document, headers=headers)
    if first.status_code != 201:
        yield judge(f"{GROUP}.idempotency:activity-retry-answers-original", [f"notify answered {first.status_code}"])
        return
    w.to_cancel.append((w.a, first.json()["activity"].get("id", document["id"])))
    again = a.post("/v1/activities", json=document, headers=headers)
    problems = []
    if (again.status_code, again.content) != (first.status_code, first.content):
        problems.append(f"the retry answered {again.status_code} {again.text[:200]}")
    elif again.headers.get("Idempotent-Replayed") != "true":
        problems.append("the retry's answer does not say Idempotent-Replayed: true")
    listed = get_all(a, "/v1/activities")
    if listed.status_code == 200:
        ids = [entry.get("id", entry.get("activity", {}).get("id")) for entry in listed.json()]
        if ids.count(document["id"]) != 1:
            problems.append(f"the notifier lists {ids.count(document['id'])} activities with the id")
    yield judge(f"{GROUP}.idempotency:activity-retry-answers-original", problems)
    other = w.activity_document(w.a, "lc-idem2", [w.b])
    clash = a.post("/v1/activities", json=other, headers=headers)
    if clash.status_code == 201:
        w.to_cancel.append((w.a, clash.json()["activity"].get("id", other["id"])))
    problem = is_problem(clash)
    yield judge(
        f"{GROUP}.idempotency:activity-key-reused-refused",
        [] if clash.status_code == 409 and problem is None else [problem or f"answered {clash.status_code}"],
    )


def concurrent_retries(w: World) -> Iterator[Result]:
    """The same post (same idempotency key and body) sent several times at once, as a client retrying
    over a flaky link does: one message is stored, every answer is the original answer, and all but
    one say so (``Idempotent-Replayed: true``)."""
    import httpx

    thread = w.threads[f"{w.a}-{w.b}"]
    key, text = w.name("idem-race"), f"{w.run_id} raced"
    answers: list[Any] = []
    lock = threading.Lock()

    def retry() -> None:
        headers = {"Authorization": f"Bearer {w.api.key(liaison(w.a))}"}
        with httpx.Client(base_url=w.api.url, headers=headers, timeout=30) as client:
            response = _post(client, thread, text, key)
        with lock:
            answers.append(response)

    workers = [threading.Thread(target=retry) for _ in range(RETRIES)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    problems = [f"a retry answered {r.status_code} {r.text[:200]}" for r in answers if r.status_code >= 300]
    if not problems:
        seqs = {r.json()["message"]["seq"] for r in answers}
        replayed = [r.headers.get("Idempotent-Replayed") == "true" for r in answers]
        if len(seqs) != 1 or len({r.content for r in answers}) != 1 or replayed.count(False) != 1:
            problems.append(f"{RETRIES} retries were answered with seqs {sorted(seqs)}, replayed {replayed}")
        listed = w.api.client(liaison(w.b)).get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": 0})
        copies = [m["seq"] for m in listed.json() if m.get("idempotency_key") == key]
        if len(copies) != 1:
            problems.append(f"the thread holds {len(copies)} messages with the key (seqs {copies})")
    yield judge(f"{GROUP}.idempotency:hotline-concurrent-retries-one-message", problems, f"{RETRIES} at once")


def socket_retries(w: World) -> Iterator[Result]:
    """A post over the hotline socket retried with the same idempotency key, over the socket and then over
    HTTP, is answered as the original each time (same number, ``created`` false) and stored once."""
    from websockets.sync.client import connect

    thread = w.threads[f"{w.a}-{w.b}"]
    key, text = w.name("idem-ws"), f"{w.run_id} over the socket"
    url = w.api.url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/v1/hotline/ws"
    problems: list[str] = []
    try:
        headers = {"Authorization": f"Bearer {w.api.key(liaison(w.a))}"}
        with connect(url, additional_headers=headers, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "resume", "cursors": {}}))
            _frames_until(ws, lambda f: f.get("type") == "resumed")
            answers = []
            for ref in ("first", "retry"):
                frame = {"type": "post", "ref": ref, "thread_id": thread, "kind": "text", "body": text}
                ws.send(json.dumps({**frame, "idempotency_key": key}))
                frames = _frames_until(
                    ws, lambda f, r=ref: f.get("ref") == r and f.get("type") in ("accepted", "error")
                )
                answers.append(frames[-1])
        http = _post(w.api.client(liaison(w.a)), thread, text, key)
        first, retry = answers
        if first.get("type") != "accepted" or first.get("created") is not True:
            problems.append(f"the first post over the socket answered {first}")
        elif retry.get("type") != "accepted" or retry.get("created") is not False or retry.get("seq") != first["seq"]:
            problems.append(f"the retry over the socket answered {retry}, the original was seq {first['seq']}")
        elif (
            http.status_code >= 300
            or http.json().get("created") is not False
            or http.json()["message"]["seq"] != first["seq"]
        ):
            problems.append(f"the retry over HTTP answered {http.status_code} {http.text[:200]}")
        listed = w.api.client(liaison(w.b)).get(f"/v1/hotline/threads/{thread}/messages", params={"after_seq": 0})
        copies = [m["seq"] for m in listed.json() if m.get("idempotency_key") == key]
        if len(copies) != 1:
            problems.append(f"the thread holds {len(copies)} messages with the key (seqs {copies})")
    except Exception as exc:  # the report names it
        problems.append(f"socket: {type(exc).__name__}: {exc}")
    yield judge(f"{GROUP}.idempotency:hotline-socket-retry-answers-original", problems)


CHECKS = [
    Check(GROUP, "activity", activity_versions),
    Check(GROUP, "activity:acknowledged", activity_acknowledged_version),
    Check(GROUP, "activity:status", activity_status_lifecycle),
    Check(GROUP, "hotline", hotline_sequences),
    Check(GROUP, "hotline:socket", hotline_socket_order),
    Check(GROUP, "idempotency", idempotent_retries),
    Check(GROUP, "idempotency:activity", activity_retries),
    Check(GROUP, "idempotency:concurrent", concurrent_retries),
    Check(GROUP, "idempotency:socket", socket_retries),
]
