"""``/v1/messages`` and ``/v1/notices``: messages over the line, their acknowledgement, and the inbox of what the
caller still owes an acknowledgement, earliest deadline first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from deconfliction.api.deps import (
    CurrentCaller,
    HubDep,
    IdempotencyKey,
    dumps,
    json_response,
    run_write,
)
from deconfliction.api.line_schemas import MessageAcknowledgeIn, MessageIn, MessagePublic, NoticeListPublic
from deconfliction.channel.templates import load_catalog
from deconfliction.service import messages, notices
from deconfliction.service.hub import Tx

router = APIRouter(prefix="/v1", tags=["messages"])


@router.post("/messages", status_code=201, response_model=MessagePublic)
async def send_message(body: MessageIn, who: CurrentCaller, hub: HubDep, key: IdempotencyKey) -> Response:
    """Send a message to parties (``to``) or a channel, as free text or a template rendered in each recipient's
    language. Each recipient owes an acknowledgement by its deadline (``ack_within_s``, default by priority);
    missed deadlines escalate: re-sent, then the recipient's duty endpoints, then the monitors."""
    caller = who.party

    def run(tx: Tx) -> tuple[int, bytes]:
        message = messages.send(hub, tx, caller, body.to_draft())
        return 201, dumps(messages.view(hub, tx.uow, caller, message))

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["message", body.model_dump(mode="json")], run)
    )
    return json_response(status, content)


@router.get("/messages", response_model=dict[str, list[MessagePublic] | str | None])
async def list_messages(
    who: CurrentCaller,
    hub: HubDep,
    after: Annotated[str | None, Query(description="The next_after of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Messages you sent or received, oldest first."""
    with hub.store.read() as uow:
        found = uow.messages_for(who.party.id, limit, after)
        views = [messages.view(hub, uow, who.party, m) for m in found]
    next_after = found[-1].id if len(found) == limit else None
    return json_response(200, dumps({"messages": views, "next_after": next_after}))


@router.get("/messages/{message_id}", response_model=MessagePublic)
async def read_message(message_id: str, who: CurrentCaller, hub: HubDep) -> Response:
    """A message you sent (with each recipient's delivery status) or received (rendered in your language)."""
    with hub.store.read() as uow:
        message = messages.visible(uow, who.party, message_id)
        view = messages.view(hub, uow, who.party, message)
    return json_response(200, dumps(view))


@router.post("/messages/{message_id}/read", response_model=MessagePublic)
async def mark_read(message_id: str, who: CurrentCaller, hub: HubDep) -> Response:
    """Record that the calling endpoint has shown the message to a person."""
    view = await run_write(hub, lambda tx: messages.mark_read(hub, tx, who.party, who.endpoint_id, message_id))
    return json_response(200, dumps(view))


@router.post("/messages/{message_id}/acknowledge", response_model=MessagePublic)
async def acknowledge_message(
    message_id: str, who: CurrentCaller, hub: HubDep, key: IdempotencyKey, body: MessageAcknowledgeIn | None = None
) -> Response:
    """**Received and understood — never approval.** The sender is told; the deadline stops."""
    note = body.note if body else None
    signed = body.signed() if body else None

    def run(tx: Tx) -> tuple[int, bytes]:
        return 200, dumps(messages.acknowledge(hub, tx, who.party, who.endpoint_id, message_id, note, signed))

    request = ["msg-ack", message_id, note, body.signature if body else None]
    status, content = await run_write(hub, lambda tx: hub.idempotent(tx, who.party, key, lambda: request, run))
    return json_response(status, content)


@router.get("/notices", response_model=NoticeListPublic)
async def inbox(who: CurrentCaller, hub: HubDep, limit: Annotated[int, Query(ge=1, le=1000)] = 200) -> Response:
    """What your party still owes an acknowledgement (messages and conflicts), earliest deadline first. Each
    carries the signed receipt of the logged notice it answers (``receipt.leaf_hash`` is what a signed
    acknowledgement covers), as its event did. ``last_event_id`` is the newest event of your log when the inbox was
    read (in the same transaction): follow ``GET /v1/events`` after it and nothing is missed or needs replaying."""
    with hub.store.read() as uow:
        body = notices.inbox(hub, uow, who.party.id, limit)
    return json_response(200, dumps(body))


@router.get("/templates")
async def templates(who: CurrentCaller) -> Response:
    """The message templates, their typed fields, and the languages they are rendered in."""
    return json_response(200, dumps(load_catalog().describe()))
