"""HTTP access to the deployment under test: one client per key, the served OpenAPI, answers compared.

Only the public API is used (HTTP, the SSE stream, the hotline WebSocket): the suite runs against any
deployment, not only this code base.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from keepclear.conformance.keys import KeysFile

PROBLEM_TYPE = "application/problem+json"


@dataclass(frozen=True)
class Who:
    """A key of the run: ``party`` None for the admin."""

    party: str | None
    role: str

    @property
    def label(self) -> str:
        return "admin" if self.party is None else f"{self.party}/{self.role}"


#: The most pages ``get_all`` follows: a list that links on past it is a fault of the server.
MAX_PAGES = 10_000


def get_all(client: httpx.Client, path: str, params: dict[str, str] | None = None) -> httpx.Response:
    """GET a list that may come in pages (``Link: <...>; rel="next"``, docs/api.md "Lists come in
    pages") and follow it to its end, so no item is missed: the first answer when it is not a page
    of a list, else one answer whose body is every page's items in order (or the first refusal met)."""
    response = client.get(path, params=params)
    if "next" not in response.links:
        return response  # one page (or none): the answer as it came
    items: list[Any] = []
    for _ in range(MAX_PAGES):
        is_json = "json" in response.headers.get("content-type", "")
        if response.status_code != 200 or not is_json or not isinstance(page := response.json(), list):
            return response
        items.extend(page)
        following = response.links.get("next")
        if following is None:
            headers = {k: v for k, v in response.headers.items() if k.lower() not in ("link", "content-length")}
            return httpx.Response(200, json=items, headers=headers, request=response.request)
        response = client.get(following["url"])
    raise RuntimeError(f"GET {path}: still linking to a next page after {MAX_PAGES} pages")


class Api:
    """One httpx client per key of the keys file, on one base URL."""

    def __init__(self, url: str, keys: KeysFile, timeout_s: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.keys = keys
        self._timeout_s = timeout_s
        self._clients: dict[Who, httpx.Client] = {}

    def key(self, who: Who) -> str:
        return self.keys.admin if who.party is None else self.keys.parties[who.party][who.role]

    def client(self, who: Who) -> httpx.Client:
        """The client sending ``who``'s key."""
        if who not in self._clients:
            self._clients[who] = httpx.Client(
                base_url=self.url,
                headers={"Authorization": f"Bearer {self.key(who)}"},
                timeout=self._timeout_s,
            )
        return self._clients[who]

    def reset(self, who: Who | None = None) -> None:
        """Drop ``who``'s client (everyone's when None): after a 5xx the server may have broken the kept-alive
        connection, and the next request must not fail for that."""
        for key in [who] if who is not None else list(self._clients):
            client = self._clients.pop(key, None)
            if client is not None:
                client.close()

    def everyone(self) -> list[Who]:
        """Every key of the file: the admin, then each party's roles."""
        return [Who(None, "admin")] + [Who(p, r) for p in self.keys.parties for r in self.keys.parties[p]]

    def openapi(self) -> dict[str, Any]:
        response = httpx.get(self.url + "/openapi.json", timeout=self._timeout_s)
        response.raise_for_status()
        document: dict[str, Any] = response.json()
        return document

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()


def liaison(party: str) -> Who:
    return Who(party, "liaison")


def observer(party: str) -> Who:
    return Who(party, "observer")


def feed(party: str) -> Who:
    return Who(party, "feed")


ADMIN = Who(None, "admin")


def operations(document: dict[str, Any], method: str) -> list[tuple[str, dict[str, Any]]]:
    """(path, operation) of every ``method`` operation in an OpenAPI document, in path order."""
    return [
        (path, item[method.lower()])
        for path, item in sorted(document.get("paths", {}).items())
        if isinstance(item, dict) and method.lower() in item
    ]


def is_problem(response: httpx.Response) -> str | None:
    """None when ``response`` is an RFC 9457 problem of a 4xx status; else what is wrong with it."""
    where = f"{response.request.method} {response.request.url.path}"
    if not 400 <= response.status_code < 500:
        return f"{where} answered {response.status_code}, not a 4xx refusal"
    content_type = response.headers.get("content-type", "")
    if not content_type.startswith(PROBLEM_TYPE):
        return f"{where} answered {response.status_code} as {content_type or 'no content type'}, not {PROBLEM_TYPE}"
    try:
        body = response.json()
    except ValueError:
        return f"{where} answered {response.status_code} with a body that is not JSON"
    missing = [f for f in ("type", "title", "status", "detail") if not isinstance(body, dict) or f not in body]
    if missing:
        return f"{where} answered a problem without {', '.join(missing)}"
    if body["status"] != response.status_code:
        return f"{where} answered {response.status_code} but its problem says status {body['status']}"
    return None


def answer_shape(response: httpx.Response, named: str | Sequence[str]) -> dict[str, Any]:
    """What a caller learns from an answer, with the id (or each of the ids) it named replaced by ``{id}``:
    status, content type, and the body (problem type, title, detail, errors...), for comparing a foreign
    id with a made-up one."""
    text = response.text
    for ident in [named] if isinstance(named, str) else named:
        text = text.replace(json.dumps(ident)[1:-1], "{id}") if ident else text
    try:
        body: Any = json.loads(text)
    except ValueError:
        body = text
    if isinstance(body, dict):
        body.pop("instance", None)  # the request path, which names the id by design
    return {
        "status": response.status_code,
        "content_type": response.headers.get("content-type", "").split(";")[0],
        "body": body,
    }


def shape_difference(foreign: dict[str, Any], madeup: dict[str, Any]) -> str | None:
    """None when two answer shapes are identical; else the first field that tells them apart."""
    for field in ("status", "content_type"):
        if foreign[field] != madeup[field]:
            return f"{field} {foreign[field]!r} vs {madeup[field]!r} for a made-up id"
    if foreign["body"] != madeup["body"]:
        a, b = foreign["body"], madeup["body"]
        if isinstance(a, dict) and isinstance(b, dict):
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    return f"{key} {_short(a.get(key))} vs {_short(b.get(key))} for a made-up id"
        return f"body {_short(a)} vs {_short(b)} for a made-up id"
    return None


def _short(value: Any, limit: int = 160) -> str:
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


_HEX = "0123456789abcdef"


def sibling_id(real: str) -> str:
    """A made-up id of the same shape as ``real`` (same length and alphabet in each place), that is not it:
    the last up-to-six letters and digits are moved along their alphabet."""
    chars = list(real)
    changed = 0
    for i in range(len(chars) - 1, -1, -1):
        c = chars[i]
        if c.isdigit():
            chars[i] = str((int(c) + 7) % 10)
        elif c in _HEX:
            chars[i] = _HEX[10 + (_HEX.index(c) - 10 + 3) % 6]
        elif c.isalpha() and c.islower():
            chars[i] = chr(ord("a") + (ord(c) - ord("a") + 7) % 26)
        else:
            continue
        changed += 1
        if changed == 6:
            break
    return "".join(chars)


def path_params(path: str) -> list[str]:
    return re.findall(r"{([^}]+)}", path)


def send_large(api: Api, who: Who, method: str, path: str, raw: bytes, wait_s: float = 3.0) -> httpx.Response:
    """Send a large body the way a careful client does: headers first, and the body only if the server has
    not answered yet (a server that refuses by the declared length answers at once and may close the
    connection before the body is read, which would lose its answer to a plain client)."""
    import http.client
    import select
    from urllib.parse import urlsplit

    parts = urlsplit(api.url)
    factory = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    conn = factory(parts.hostname or "", parts.port, timeout=60)
    try:
        conn.putrequest(method, (parts.path or "") + path)
        for name, value in (
            ("Authorization", f"Bearer {api.key(who)}"),
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(raw))),
        ):
            conn.putheader(name, value)
        conn.endheaders()
        assert conn.sock is not None
        early, _, _ = select.select([conn.sock], [], [], wait_s)
        if not early:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                conn.send(raw)  # a server that stops reading has answered: its answer follows
        answer = conn.getresponse()
        return httpx.Response(
            answer.status,
            headers=answer.getheaders(),
            content=answer.read(),
            request=httpx.Request(method, api.url + path),
        )
    finally:
        conn.close()
