"""``/v1/endpoints``: a party's units, each with its own token, its own event stream and delivery records."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, IdempotencyKey, dumps, json_response, run_write
from deconfliction.api.line_schemas import EndpointCreated, EndpointIn, EndpointPublic, WebhookStatus
from deconfliction.core.disclosure import iso_z, iso_z_or_none
from deconfliction.core.errors import InvalidInput
from deconfliction.core.line import Endpoint
from deconfliction.service import endpoints
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.record import record_ref
from deconfliction.store.port import UnitOfWork

router = APIRouter(prefix="/v1/endpoints", tags=["endpoints"])


def endpoint_public(hub: Hub, uow: UnitOfWork, ep: Endpoint) -> dict[str, Any]:
    seq, seen = uow.endpoint_status(ep.id)
    state, since = uow.endpoint_line_state(ep.id)
    webhook = None
    if ep.webhook_url is not None:
        pushed = uow.webhook_state(ep.id)
        webhook = {**endpoints.webhook_view(pushed), "backlog": hub.events.last(ep.party_id) - pushed.pushed_seq}
    return {
        "id": ep.id,
        "name": ep.name,
        "duty": ep.duty,
        "subscriptions": sorted(ep.subscriptions) if ep.subscriptions is not None else None,
        "webhook_url": ep.webhook_url,
        "created_at": iso_z(ep.created_at),
        "delivered_seq": seq,
        "last_seen_at": iso_z_or_none(seen),
        "line_state": str(state) if state else None,
        "line_state_since": iso_z_or_none(since),
        "webhook": webhook,
        "record_ref": record_ref(hub.secret, ep.id),
    }


@router.post("", status_code=201, response_model=EndpointCreated)
async def register_endpoint(body: EndpointIn, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Register a unit. Its token (and webhook secret) are shown once, in this answer."""

    def run(tx: Tx) -> tuple[int, bytes]:
        done = endpoints.register(hub, tx, caller, body.to_draft())
        view = endpoint_public(hub, tx.uow, done.endpoint)
        return 201, dumps({**view, "token": done.token, "webhook_secret": done.webhook_secret})

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["endpoint", body.model_dump(mode="json")], run)
    )
    return json_response(status, content)


@router.get("", response_model=list[EndpointPublic])
async def list_endpoints(caller: CurrentParty, hub: HubDep) -> Response:
    """Your endpoints, with how far each has been sent your event log and when it was last seen."""
    with hub.store.read() as uow:
        found = [endpoint_public(hub, uow, ep) for ep in hub.endpoints.get(caller.id, [])]
    return json_response(200, dumps(found))


@router.post("/{endpoint_id}/rotate-token", response_model=EndpointCreated)
async def rotate_endpoint_token(endpoint_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """A new token for the unit; the old one stops working within seconds."""

    def run(tx: Tx) -> bytes:
        ep, token = endpoints.rotate_token(hub, tx, caller, endpoint_id)
        return dumps({**endpoint_public(hub, tx.uow, ep), "token": token, "webhook_secret": None})

    return json_response(200, await run_write(hub, run))


@router.delete("/{endpoint_id}", status_code=204)
async def disable_endpoint(endpoint_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """Retire the unit: its token stops working and it receives nothing more. Its delivery records stay."""
    await run_write(hub, lambda tx: endpoints.disable(hub, tx, caller, endpoint_id))
    return Response(status_code=204)


@router.get("/{endpoint_id}", response_model=EndpointPublic)
async def get_endpoint(endpoint_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """One of your units: how far it has been sent your event log, its line state and its webhook push state."""
    with hub.store.read() as uow:
        ep = endpoints.own(uow, caller, endpoint_id)
        return json_response(200, dumps(endpoint_public(hub, uow, ep)))


@router.post("/{endpoint_id}/webhook/retry", status_code=202, response_model=WebhookStatus)
async def retry_webhook(endpoint_id: str, caller: CurrentParty, hub: HubDep, request: Request) -> Response:
    """Push the unit's next undelivered event now, whatever its backoff or dead-letter state says (after you
    fixed its receiver). The answer is the state before the attempt; read the endpoint to see how it went."""
    with hub.store.read() as uow:
        ep = endpoints.own(uow, caller, endpoint_id)
        if ep.webhook_url is None:
            raise InvalidInput("This endpoint has no webhook URL; it reads its event stream.", {"endpoint_id": ep.id})
        view = endpoint_public(hub, uow, ep)["webhook"]
    request.app.state.pusher.retry_now(ep.id)
    return json_response(202, dumps(view))
