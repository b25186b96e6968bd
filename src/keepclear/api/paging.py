"""Pages of the lists that grow with what parties store: activities, incidents, hotline threads,
zone proposals.

A request takes ``limit`` (items on the page; ``list_page_items`` when left out, at most
``list_page_max_items``) and ``after`` (the cursor of the previous page's ``Link: <...>; rel="next"``).
A cursor holds the sort key of the last item its page showed, sealed with AES-GCM under a key derived
from the caller's API key and bound to the list and the caller's party: nobody without that key reads
it (it may name another party's activity the caller was addressed), and an edited one, another key's
or another list's is refused (422) exactly as a made-up one, so it shows nothing of anyone. Pages
are read by the sort key (keyset), not by position: an item stored while a client pages does not move
the others, so each item there from the start is given exactly once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import Depends, Query
from starlette.requests import Request
from starlette.responses import Response

from keepclear.api.deps import CALLER_SCOPE_KEY, authenticated
from keepclear.domain.identity import Principal
from keepclear.errors import Problem, ProblemCode, ValidationError

#: Marks the cursor format, so a later one can be told apart.
CURSOR_PREFIX = "c1."
_KEY_CONTEXT = b"keepclear list cursor v1"
_NONCE_BYTES = 12
#: A cursor's longest text: a sort key of a float and a 64-character id sealed is far below it.
MAX_CURSOR_CHARS = 512

#: What a cursor that cannot be read is told: the same words whatever is wrong with it (edited,
#: another key's, another list's), so a refusal tells nothing.
BAD_CURSOR = "not a cursor this key was given for this list; read the list again from its first page"

#: A sort key: the values an item is ordered by (JSON scalars), e.g. ``("a-1",)`` or ``(1700000000.0, "i-1")``.
SortKey = tuple[Any, ...]


@dataclass(frozen=True)
class PageLimits:
    """How many items a page holds: ``default_items`` when a request names no ``limit``, at most
    ``max_items`` (settings ``list_page_items`` and ``list_page_max_items``)."""

    default_items: int = 100
    max_items: int = 1000


@dataclass(frozen=True)
class PageRequest:
    """One request's page: ``limit`` items after ``after`` (None: from the first), for ``list_name``;
    ``key`` seals the next page's cursor."""

    list_name: str
    limit: int
    after: SortKey | None
    party: str
    key: bytes

    def link(
        self, request: Request, response: Response, last: SortKey | None, keep: dict[str, str] | None = None
    ) -> None:
        """Set ``Link: <path?limit=..&after=..>; rel="next"`` on ``response`` when a next page may
        exist (``last``: the sort key of the last item shown, None when this page was the last);
        ``keep``: the request's other query parameters the next page needs too (a filter)."""
        if last is None:
            return
        query = urlencode({**(keep or {}), "limit": self.limit, "after": self.cursor(last)})
        response.headers["Link"] = f'<{request.url.path}?{query}>; rel="next"'

    def cursor(self, last: SortKey) -> str:
        """The sealed cursor of the page after the item whose sort key is ``last``."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self.key).encrypt(nonce, json.dumps(list(last)).encode(), _bound(self.list_name, self.party))
        return CURSOR_PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode().rstrip("=")


def _bound(list_name: str, party: str) -> bytes:
    """What a cursor is bound to besides its key (authenticated, not sealed): its list and party."""
    return f"{list_name}\n{party}".encode()


def _cursor_key(api_key: str) -> bytes:
    """The key that seals the cursors of ``api_key``: derived from it, so every API process reads them
    and no other key does."""
    return hmac.new(api_key.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _opened(text: str, list_name: str, party: str, key: bytes, kinds: tuple[type, ...]) -> SortKey:
    """The sort key sealed in cursor ``text``, or ``ValidationError`` naming ``after``."""
    refused = ValidationError([Problem("after", ProblemCode.INVALID, BAD_CURSOR)])
    if not text.startswith(CURSOR_PREFIX):
        raise refused
    body = text[len(CURSOR_PREFIX) :]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        plain = AESGCM(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _bound(list_name, party))
        values = json.loads(plain)
    except (binascii.Error, ValueError, InvalidTag):
        raise refused from None
    if not isinstance(values, list) or len(values) != len(kinds):
        raise refused
    out: list[Any] = []
    for value, kind in zip(values, kinds, strict=True):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise refused
        out.append(value)
    return tuple(out)


def page_request(list_name: str, kinds: tuple[type, ...]) -> Callable[..., PageRequest]:
    """A dependency: the page a list request asks for (``kinds``: the types of the list's sort key,
    e.g. ``(float, str)`` for a time and an id)."""

    def dependency(
        request: Request,
        principal: Annotated[Principal, Depends(authenticated)],
        limit: Annotated[
            int | None,
            Query(
                ge=1, le=2**31, description="Items on the page (default list_page_items, at most list_page_max_items)."
            ),
        ] = None,
        after: Annotated[
            str | None,
            Query(
                max_length=MAX_CURSOR_CHARS,
                description='The cursor of the next page, as the previous page\'s Link: <...>; rel="next" gives it.',
            ),
        ] = None,
    ) -> PageRequest:
        limits: PageLimits = request.app.state.page_limits
        if limit is not None and limit > limits.max_items:
            raise ValidationError(
                [Problem("limit", ProblemCode.OUT_OF_RANGE, f"{limit} is more than a page holds, {limits.max_items}")]
            )
        api_key = request.scope[CALLER_SCOPE_KEY][0]  # the key ``authenticated`` judged
        party = principal.party_id or ""
        key = _cursor_key(api_key)
        opened = None if after is None else _opened(after, list_name, party, key, kinds)
        return PageRequest(list_name, limit or limits.default_items, opened, party, key)

    return dependency
