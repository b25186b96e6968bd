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

from keepclear.conformance.client import is_problem, liaison
from keepclear.conformance.registry import Check, Result, judge
from keepclear.conformance.world import World

GROUP = "lifecycle"
POSTS_PER_PARTY = 5


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


CHECKS = [
    Check(GROUP, "activity", activity_versions),
    Check(GROUP, "hotline", hotline_sequences),
    Check(GROUP, "hotline:socket", hotline_socket_order),
    Check(GROUP, "idempotency", idempotent_retries),
]
