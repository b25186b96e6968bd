"""Request dependencies: the runtime of this app, and the authenticated, authorised caller."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from fastapi import Header, Request
from starlette.concurrency import run_in_threadpool

from keepclear.domain.identity import Principal
from keepclear.errors import AuthenticationError
from keepclear.services.policy import Action, require

if TYPE_CHECKING:
    from keepclear.services.runtime.runtime import Runtime


def runtime(request: Request) -> Runtime:
    """The runtime this app was built with (set by ``create_app``, never a global)."""
    return request.app.state.runtime  # type: ignore[no-any-return]


def authorized(action: Action) -> Callable[..., Awaitable[Principal]]:
    """A dependency: authenticate the bearer key, then check its role may take ``action``."""

    async def dependency(
        request: Request,
        authorization: str | None = Header(default=None, description="Bearer kc_<id>_<secret>"),
        x_keepclear_person: str | None = Header(default=None, description="The person acting (for receipts)."),
    ) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthenticationError("send the API key as 'Authorization: Bearer kc_<id>_<secret>'")
        keys = runtime(request).deployment.keys
        principal = await run_in_threadpool(keys.authenticate, authorization[7:].strip(), x_keepclear_person or "")
        require(principal, action)
        return principal

    dependency.action = action  # type: ignore[attr-defined]  # read by the authorisation matrix test
    return dependency


async def public(request: Request) -> None:
    """Marks an endpoint that needs no key (health only)."""


public.action = Action.HEALTH  # type: ignore[attr-defined]
