"""``/v1/conflicts``: the conflicts the caller is party to (all of them, for a monitor), and acknowledgement."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from deconfliction.api.deps import CurrentCaller, CurrentParty, HubDep, IdempotencyKey, dumps, json_response, run_write
from deconfliction.api.schemas import AcknowledgeIn, ConflictListPublic, ConflictPublic
from deconfliction.core.errors import NotFound
from deconfliction.core.model import ConflictStatus, Role
from deconfliction.service import conflicts
from deconfliction.service.hub import Tx

router = APIRouter(prefix="/v1/conflicts", tags=["conflicts"])


@router.get("", response_model=ConflictListPublic)
async def list_conflicts(
    caller: CurrentParty,
    hub: HubDep,
    status: ConflictStatus | None = None,
    after: Annotated[str | None, Query(description="The next_after of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Conflicts you are party to (a monitor: every conflict), oldest first, optionally by status."""
    party_id = None if caller.role is Role.MONITOR else caller.id
    with hub.store.read() as uow:
        found = uow.conflicts_for(party_id, status, limit, after)
    views = [v for v in (hub.view(c, caller) for c in found) if v]
    next_after = found[-1].id if len(found) == limit else None
    return json_response(200, dumps({"conflicts": views, "next_after": next_after}))


@router.get("/{conflict_id}", response_model=ConflictPublic)
async def read_conflict(conflict_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    with hub.store.read() as uow:
        found = uow.conflict(conflict_id)
    view = hub.view(found, caller) if found else None
    if view is None:
        raise NotFound(f"No conflict {conflict_id!r} among those you may see.", {"conflict_id": conflict_id})
    return json_response(200, dumps(view))


@router.post("/{conflict_id}/acknowledge", response_model=ConflictPublic)
async def acknowledge_conflict(
    conflict_id: str,
    caller: CurrentParty,
    who: CurrentCaller,
    hub: HubDep,
    key: IdempotencyKey,
    body: AcknowledgeIn | None = None,
) -> Response:
    """Acknowledge the conflict as it stands: **"received and understood", never approval** — it grants nothing
    and does not make the overlap acceptable. The other party is told. A changed overlap (new ``revision``) must be
    acknowledged again; acknowledging the same revision twice changes nothing."""
    note = body.note if body else None
    signed = body.signed() if body else None

    def run(tx: Tx) -> tuple[int, bytes]:
        conflict = conflicts.acknowledge(hub, tx, caller, conflict_id, note, signed, who.endpoint_id)
        return 200, dumps(hub.view(conflict, caller))

    request = ["ack", conflict_id, note, body.signature if body else None]
    status, content = await run_write(hub, lambda tx: hub.idempotent(tx, caller, key, lambda: request, run))
    return json_response(status, content)
