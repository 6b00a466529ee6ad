"""``/v1/events``: the caller's durable event log as server-sent events.

Each event's ``id`` is its sequence number in the caller's log. Reconnect with ``Last-Event-ID`` (or ``?after=``)
to receive everything after it, in order, across disconnects and hub restarts.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import StreamingResponse

from deconfliction.api.deps import CurrentParty, HubDep
from deconfliction.core.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["events"])

_PAGE = 500


def _start(last_event_id: str | None, after: int | None) -> int:
    if last_event_id is None:
        return after or 0
    if not last_event_id.strip().isdigit():
        raise InvalidInput("Last-Event-ID must be the integer id of the last event you received.")
    return int(last_event_id)


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request,
    caller: CurrentParty,
    hub: HubDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="Like Last-Event-ID, for clients that can't set it.")] = None,
    follow: Annotated[bool, Query(description="false: send the backlog, then close.")] = True,
) -> StreamingResponse:
    """Every event for the caller (conflict.opened, .changed, .resolved, .acknowledged), at least once, in order.
    ``data`` is the conflict as the caller sees it."""
    seq = _start(last_event_id, after)

    async def stream() -> AsyncIterator[str]:
        nonlocal seq
        handle = hub.listeners.subscribe(caller.id)
        try:
            yield "retry: 1000\n\n"
            while True:
                handle[1].clear()
                with hub.store.read() as uow:
                    rows = uow.events_after(caller.id, seq, _PAGE)
                for event_seq, type_, data in rows:
                    yield f"id: {event_seq}\nevent: {type_}\ndata: {data}\n\n"
                    seq = event_seq
                if len(rows) == _PAGE:
                    continue
                if not follow or await request.is_disconnected():
                    return
                try:
                    await asyncio.wait_for(handle[1].wait(), timeout=hub.settings.event_heartbeat_s)
                except TimeoutError:
                    yield ": keep-alive\n\n"
        finally:
            hub.listeners.unsubscribe(caller.id, handle)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
