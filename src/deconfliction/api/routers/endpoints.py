"""``/v1/endpoints``: a party's units, each with its own token, its own event stream and delivery records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, IdempotencyKey, dumps, json_response, run_write
from deconfliction.api.line_schemas import EndpointCreated, EndpointIn, EndpointPublic
from deconfliction.core.disclosure import iso_z
from deconfliction.core.line import Endpoint
from deconfliction.service import endpoints
from deconfliction.service.hub import Tx
from deconfliction.store.port import UnitOfWork

router = APIRouter(prefix="/v1/endpoints", tags=["endpoints"])


def endpoint_public(uow: UnitOfWork, ep: Endpoint) -> dict[str, Any]:
    seq, seen = uow.endpoint_status(ep.id)
    return {
        "id": ep.id,
        "name": ep.name,
        "duty": ep.duty,
        "subscriptions": sorted(ep.subscriptions) if ep.subscriptions is not None else None,
        "webhook_url": ep.webhook_url,
        "created_at": iso_z(ep.created_at),
        "delivered_seq": seq,
        "last_seen_at": iso_z(seen) if seen else None,
    }


@router.post("", status_code=201, response_model=EndpointCreated)
async def register_endpoint(body: EndpointIn, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Register a unit. Its token (and webhook secret) are shown once, in this answer."""

    def run(tx: Tx) -> tuple[int, bytes]:
        done = endpoints.register(hub, tx, caller, body.to_draft())
        view = endpoint_public(tx.uow, done.endpoint)
        return 201, dumps({**view, "token": done.token, "webhook_secret": done.webhook_secret})

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["endpoint", body.model_dump(mode="json")], run)
    )
    return json_response(status, content)


@router.get("", response_model=list[EndpointPublic])
async def list_endpoints(caller: CurrentParty, hub: HubDep) -> Response:
    """Your endpoints, with how far each has been sent your event log and when it was last seen."""
    with hub.store.read() as uow:
        found = [endpoint_public(uow, ep) for ep in hub.endpoints.get(caller.id, [])]
    return json_response(200, dumps(found))


@router.post("/{endpoint_id}/rotate-token", response_model=EndpointCreated)
async def rotate_endpoint_token(endpoint_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """A new token for the unit; the old one stops working within seconds."""

    def run(tx: Tx) -> bytes:
        ep, token = endpoints.rotate_token(hub, tx, caller, endpoint_id)
        return dumps({**endpoint_public(tx.uow, ep), "token": token, "webhook_secret": None})

    return json_response(200, await run_write(hub, run))


@router.delete("/{endpoint_id}", status_code=204)
async def disable_endpoint(endpoint_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """Retire the unit: its token stops working and it receives nothing more. Its delivery records stay."""
    await run_write(hub, lambda tx: endpoints.disable(hub, tx, caller, endpoint_id))
    return Response(status_code=204)
