"""``/v1/channels``: standing lines between parties, proposed by one and accepted by the others."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, IdempotencyKey, dumps, json_response, run_write
from deconfliction.api.line_schemas import ChannelIn, ChannelPublic
from deconfliction.service import channels
from deconfliction.service.hub import Tx

router = APIRouter(prefix="/v1/channels", tags=["channels"])


@router.post("", status_code=201, response_model=ChannelPublic)
async def propose_channel(body: ChannelIn, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Propose a channel with other parties; it is active once each of them has accepted."""

    def run(tx: Tx) -> tuple[int, bytes]:
        ch = channels.create(hub, tx, caller, body.name, body.members)
        return 201, dumps(channels.view(hub, ch))

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["channel", body.model_dump(mode="json")], run)
    )
    return json_response(status, content)


@router.get("", response_model=dict[str, list[ChannelPublic]])
async def list_channels(caller: CurrentParty, hub: HubDep) -> Response:
    with hub.store.read() as uow:
        found = uow.channels_of(caller.id)
    return json_response(200, dumps({"channels": [channels.view(hub, ch) for ch in found]}))


@router.post("/{channel_id}/accept", response_model=ChannelPublic)
async def accept_channel(channel_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    ch = await run_write(hub, lambda tx: channels.accept(hub, tx, caller, channel_id))
    return json_response(200, dumps(channels.view(hub, ch)))
