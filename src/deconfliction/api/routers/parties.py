"""``/v1/me`` and ``/v1/parties``: who the caller is, who shares the theatre (to address sites), and parties'
public signing keys."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from deconfliction.api.deps import (
    CurrentCaller,
    CurrentParty,
    HubDep,
    IdempotencyKey,
    dumps,
    json_response,
    run_write,
)
from deconfliction.service import party_keys
from deconfliction.service.hub import Tx

router = APIRouter(prefix="/v1", tags=["parties"])


@router.get("/me")
async def me(who: CurrentCaller) -> Response:
    """Who the token is: the party, and the endpoint (unit) when it is an endpoint's token."""
    caller, unit = who.party, who.endpoint
    body = {
        "id": caller.id,
        "name": caller.name,
        "role": str(caller.role),
        "coalition_id": caller.coalition_id,
        "endpoint": {"id": unit.id, "name": unit.name} if unit is not None else None,
    }
    return json_response(200, dumps(body))


@router.get("/parties")
async def parties(caller: CurrentParty, hub: HubDep) -> Response:
    """Every party's id, name and role: enough to address a protected site, nothing about their plans."""
    with hub.store.read() as uow:
        found = uow.parties()
    return json_response(200, dumps({"parties": [{"id": p.id, "name": p.name, "role": str(p.role)} for p in found]}))


class KeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    public_key: str = Field(
        min_length=64, max_length=64, description="A raw Ed25519 public key, 64 hex digits (32 bytes)."
    )


@router.post("/parties/{party_id}/keys", status_code=201)
async def register_key(party_id: str, body: KeyIn, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Register one of your Ed25519 public keys, to sign acknowledgements with. Registering it again returns it."""

    def run(tx: Tx) -> tuple[int, bytes]:
        return 201, dumps(party_keys.key_view(party_keys.register(hub, tx, caller, party_id, body.public_key)))

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["key", party_id, body.public_key], run)
    )
    return json_response(status, content)


@router.get("/parties/{party_id}/keys")
async def list_keys(party_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """A party's public keys, revoked ones included (their old signatures still verify): any party may read them."""
    with hub.store.read() as uow:
        found = party_keys.keys_of(uow, party_id)
    return json_response(200, dumps({"keys": [party_keys.key_view(k) for k in found]}))


@router.post("/parties/{party_id}/keys/{key_id}/revoke")
async def revoke_key(party_id: str, key_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """Stop accepting signatures made with this key from now on."""
    done = await run_write(hub, lambda tx: party_keys.revoke(hub, tx, caller, party_id, key_id))
    return json_response(200, dumps(party_keys.key_view(done)))
