"""/v1/keys: API keys, managed by the deployment's admin."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Response

from keepclear.api.deps import authorized, runtime
from keepclear.api.input_gate import JudgedBodyRoute
from keepclear.api.models import KeyCreated, KeyIn, KeyOut
from keepclear.domain.identity import ApiKeyInfo, Principal, Role
from keepclear.domain.timefmt import format_utc
from keepclear.services.policy import Action
from keepclear.services.runtime.runtime import Runtime

router = APIRouter(prefix="/v1", tags=["keys"], route_class=JudgedBodyRoute)
RuntimeDep = Annotated[Runtime, Depends(runtime)]
Admin = Annotated[Principal, Depends(authorized(Action.KEYS_MANAGE))]


def _out(info: ApiKeyInfo) -> dict[str, object]:
    return {
        "key_id": info.key_id,
        "role": info.role.value,
        "party_id": info.party_id,
        "label": info.label,
        "created": format_utc(info.created_s),
        "revoked": None if info.revoked_s is None else format_utc(info.revoked_s),
    }


@router.get("/keys")
def list_keys(rt: RuntimeDep, _: Admin) -> list[KeyOut]:
    """Every key; secrets are never shown again."""
    return [KeyOut(**_out(k)) for k in rt.deployment.keys.list()]


@router.post("/keys", status_code=201)
def create_key(body: KeyIn, rt: RuntimeDep, _: Admin) -> KeyCreated:
    """Create a key; the answer carries the key once."""
    info, key = rt.deployment.keys.create(Role(body.role), body.party_id, body.label)
    return KeyCreated(**_out(info), key=key)


@router.delete("/keys/{key_id}", status_code=204)
def revoke_key(key_id: str, rt: RuntimeDep, _: Admin) -> Response:
    """Revoke a key, effective from the next request."""
    rt.deployment.keys.revoke(key_id)
    return Response(status_code=204)
