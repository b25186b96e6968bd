"""The hotline socket behind the deployment's keys: a phrase from A reaches B in Russian; bad keys are refused."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from apisupport import Service
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect


@contextmanager
def socket(service: Service, who: str) -> Iterator[ClientConnection]:
    uri = service.url.replace("http", "ws") + f"/v1/hotline/ws?key={service.keys[who]}&person=duty"
    with connect(uri, open_timeout=60) as ws:
        ws.send(json.dumps({"type": "resume", "cursors": {}}))
        yield ws


def frames_until(ws: ClientConnection, done: Any, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while True:
        frame = json.loads(ws.recv(timeout=max(0.01, deadline - time.monotonic())))
        for item in frame["frames"] if frame["type"] == "batch" else [frame]:
            frames.append(item)
            if done(item):
                return frames


def test_phrase_from_a_reaches_b_in_russian_with_receipts(service: Service):
    thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
    with socket(service, "a-liaison") as a, socket(service, "b-liaison") as b:
        frames_until(a, lambda f: f["type"] == "resumed")
        frames_until(b, lambda f: f["type"] == "resumed")
        a.send(
            json.dumps(
                {
                    "type": "post",
                    "ref": 1,
                    "thread_id": thread_id,
                    "kind": "query",
                    "idempotency_key": "e2e-phrase-0001",
                    "phrase": {"code": "HOLDPOS", "params": {"unit": "BRAVO1"}},
                }
            )
        )
        assert frames_until(a, lambda f: f["type"] == "accepted")[-1]["created"] is True
        got = frames_until(b, lambda f: f["type"] == "message" and f["message"]["thread_id"] == thread_id)[-1][
            "message"
        ]
        assert got["sender_party"] == "a"
        assert "BRAVO1" in got["text"] and any("а" <= ch <= "я" for ch in got["text"].lower())
        b.send(json.dumps({"type": "delivered", "thread_id": thread_id, "through_seq": got["seq"]}))
        receipt = frames_until(a, lambda f: f["type"] == "receipt")[-1]
        assert (receipt["party_id"], receipt["kind"]) == ("b", "delivered")


def test_an_observer_follows_its_threads_live_and_is_refused_each_write_frame(service: Service) -> None:
    """An observer reads its party's threads over HTTP (``threads.read``); the socket answered it 403,
    so it had no live view. It opens the socket read-only: the messages and receipts of its party's
    threads reach it as they reach the party's liaison; a ``post``, ``read`` or ``delivered`` frame is
    answered as HTTP answers a write it may not make (an ``error`` frame, status ``forbidden``), the
    socket open and nothing stored."""
    thread_id = service.runtime.hotline.ensure_pair_thread("a", "b").id
    with socket(service, "a-observer") as obs, service.client("b-liaison") as b, service.client("a-observer") as http:
        frames_until(obs, lambda f: f["type"] == "resumed")
        posted = b.post(
            f"/v1/hotline/threads/{thread_id}/messages", json={"body": "on the way", "idempotency_key": "obs-live-1"}
        )
        assert posted.status_code == 201, posted.text
        seq = posted.json()["message"]["seq"]
        got = frames_until(obs, lambda f: f["type"] == "message" and f["message"]["seq"] == seq)[-1]["message"]
        assert (got["thread_id"], got["body"], got["sender_party"]) == (thread_id, "on the way", "b")
        # HTTP refuses an observer's post and read receipt: the socket refuses its frames alike
        assert http.post(f"/v1/hotline/threads/{thread_id}/read", json={"through_seq": seq}).status_code == 403
        post = {
            "type": "post",
            "ref": 7,
            "thread_id": thread_id,
            "kind": "info",
            "idempotency_key": "obs-post-01",
            "body": "hi",
        }
        for frame in (
            post,
            {"type": "read", "thread_id": thread_id, "through_seq": seq},
            {"type": "delivered", "thread_id": thread_id, "through_seq": seq},
        ):
            obs.send(json.dumps(frame))
            error = frames_until(obs, lambda f: f["type"] == "error")[-1]
            assert error["status"] == "forbidden" and "observer" in error["problems"][0], error
        assert error_of_post(obs, post) == {"ref": 7, "idempotency_key": "obs-post-01"}
        obs.send(json.dumps({"type": "ping"}))
        frames_until(obs, lambda f: f["type"] == "pong")  # still open
        # nothing was stored: no message of a, no receipt of a
        assert [m["sender_party"] for m in b.get(f"/v1/hotline/threads/{thread_id}/messages").json()] == ["b"]
        assert b.get(f"/v1/hotline/threads/{thread_id}/messages/{seq}/receipts").json()["receipts"] == []
        # the receipts of its party's threads reach it: the liaison of a reads b's message
        with service.client("a-liaison") as a:
            assert a.post(f"/v1/hotline/threads/{thread_id}/read", json={"through_seq": seq}).status_code == 200
        receipt = frames_until(obs, lambda f: f["type"] == "receipt" and f.get("kind") == "read")[-1]
        assert (receipt["party_id"], receipt["thread_id"]) == ("a", thread_id)


def error_of_post(ws: ClientConnection, post: dict[str, Any]) -> dict[str, Any]:
    """The ``ref`` and ``idempotency_key`` of the error frame answering ``post`` sent again."""
    ws.send(json.dumps(post))
    error = frames_until(ws, lambda f: f["type"] == "error")[-1]
    assert error["status"] == "forbidden", error
    return {"ref": error.get("ref"), "idempotency_key": error.get("idempotency_key")}


@pytest.mark.parametrize("who", ["a-feed", "admin"])
def test_keys_without_a_reader_role_cannot_open_the_socket(service: Service, who: str):
    uri = service.url.replace("http", "ws") + f"/v1/hotline/ws?key={service.keys[who]}"
    with pytest.raises(InvalidStatus) as info, connect(uri, open_timeout=60):
        pass
    assert info.value.response.status_code == 403


def test_unknown_key_cannot_open_the_socket(service: Service):
    uri = service.url.replace("http", "ws") + "/v1/hotline/ws?key=kc_0000000000000000_nope"
    with pytest.raises(InvalidStatus) as info, connect(uri, open_timeout=60):
        pass
    assert info.value.response.status_code == 401


def test_a_frame_larger_than_one_objects_body_closes_the_socket_unread(service: Service) -> None:
    """A hotline frame was taken up to uvicorn's own 16 MiB, held whole and parsed (about a second of
    the interpreter, the probe waiting) where an HTTP body of one object stops at ``max_body_bytes``
    (2 MiB). Now a larger frame closes the socket (1009, message too big)."""
    with socket(service, "a-liaison") as ws:
        frames_until(ws, lambda f: f["type"] == "resumed")
        with pytest.raises(ConnectionClosed) as closed:
            # uncompressed (no per-message deflate), the frame may still be going out as the server closes
            ws.send(json.dumps({"type": "ping", "pad": "x" * (3 * 1024 * 1024)}))
            while True:
                ws.recv(timeout=10)
    # 1009 when the close frame is read; a client still sending when the socket closes sees it reset
    assert closed.value.rcvd is None or closed.value.rcvd.code == 1009, closed.value
    with socket(service, "a-liaison") as ws:  # one within the bound is read as before
        frames_until(ws, lambda f: f["type"] == "resumed")
        ws.send(json.dumps({"type": "ping", "pad": "x" * (1024 * 1024)}))
        assert frames_until(ws, lambda f: f["type"] == "pong")
