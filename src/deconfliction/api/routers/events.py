"""``/v1/events``: the caller's durable event log as server-sent events.

Each event's ``id`` is its sequence number in the caller's log. Reconnect with ``Last-Event-ID`` (or ``?after=``)
to receive everything after it, in order, across disconnects and hub restarts.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from starlette.responses import StreamingResponse

from deconfliction.api.deps import CurrentCaller, HubDep, run_write
from deconfliction.core.errors import InvalidInput
from deconfliction.service import endpoints

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
    who: CurrentCaller,
    hub: HubDep,
    last_event_id: Annotated[str | None, Header()] = None,
    after: Annotated[int | None, Query(ge=0, description="Like Last-Event-ID, for clients that can't set it.")] = None,
    follow: Annotated[bool, Query(description="false: send the backlog, then close.")] = True,
) -> StreamingResponse:
    """Every event for the caller, at least once, in order: conflicts (``conflict.opened``, ``.changed``,
    ``.resolved``, ``.acknowledged``, ``.reminder``), messages (``message.received``, ``.resent``,
    ``.acknowledged``), escalations (``notice.overdue``, ``notice.escalated``), channels, alerts, and protected sites
    notified to you (``site.notified``, ``site.withdrawn``).

    With a party's token: the party's whole log. With an endpoint's token: the events of the families it subscribes
    to, including those addressed to it alone; what it is sent is recorded as delivered to it."""
    seq = _start(last_event_id, after)
    caller, endpoint = who.party, who.endpoint

    async def stream() -> AsyncIterator[str]:
        nonlocal seq
        handle = hub.listeners.subscribe(caller.id)
        try:
            yield "retry: 1000\n\n"
            if endpoint is not None and seq > 0:
                # Resuming after N says it holds everything up to N: a hub stopped between sending those and
                # recording them would otherwise leave them queued until something newer is streamed.
                held = min(seq, hub.events.last(caller.id))
                await run_write(
                    hub,
                    functools.partial(
                        endpoints.mark_delivered, hub, endpoint_id=endpoint.id, party_id=caller.id, upto_seq=held
                    ),
                )
            while True:
                handle[1].clear()
                with hub.store.read() as uow:
                    if endpoint is None:
                        rows = uow.events_after(caller.id, seq, _PAGE)
                    else:
                        rows = uow.events_for_endpoint(caller.id, endpoint.id, seq, _PAGE)
                for event_seq, type_, data in rows:
                    if endpoint is None or endpoint.wants(type_):
                        yield f"id: {event_seq}\nevent: {type_}\ndata: {data}\n\n"
                    seq = event_seq
                if endpoint is not None and rows:
                    await run_write(
                        hub,
                        functools.partial(
                            endpoints.mark_delivered, hub, endpoint_id=endpoint.id, party_id=caller.id, upto_seq=seq
                        ),
                    )
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
