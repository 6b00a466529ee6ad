"""``/v1/operations``: declare, read, change, cancel and end operations."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from deconfliction.api.deps import (
    CurrentParty,
    HubDep,
    IdempotencyKey,
    IfMatch,
    dumps,
    json_body,
    json_response,
    parse_json_body,
    run_write,
)
from deconfliction.api.schemas import (
    ConflictCheckPublic,
    OperationCreate,
    OperationListPublic,
    OperationPublic,
    OperationResultPublic,
    to_operation_draft,
)
from deconfliction.core.disclosure import operation_public
from deconfliction.core.model import Party
from deconfliction.service import operations
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.operations import OperationResult

router = APIRouter(prefix="/v1/operations", tags=["operations"])


def _body(hub: Hub, caller: Party, result: OperationResult) -> dict[str, Any]:
    views = [hub.view(c, caller) for c in result.conflicts]
    return {"operation": result.public, "conflicts": [v for v in views if v]}


@router.post("", status_code=201, response_model=OperationResultPublic, openapi_extra=json_body(OperationCreate))
async def declare_operation(request: Request, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Declare an operation. The answer lists every conflict found with other parties' operations and with
    protected sites notified to you; the other parties are told at the same time."""
    body = parse_json_body(OperationCreate, await request.body())
    draft = to_operation_draft(body, hub.limits)

    def run(tx: Tx) -> tuple[int, bytes]:
        return 201, dumps(_body(hub, caller, operations.declare(hub, tx, caller, draft)))

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["declare", body.model_dump(mode="json")], run)
    )
    return json_response(status, content)


_NOT_YET = ("id", "status", "revision", "created_at", "updated_at", "resolved_at", "resolution", "acknowledgements")


@router.post("/check", response_model=ConflictCheckPublic, openapi_extra=json_body(OperationCreate))
async def check_operation(request: Request, caller: CurrentParty, hub: HubDep) -> Response:
    """A dry run: the conflicts this declaration would open now, as you would see them; nothing is declared and
    nobody is notified. Each party whose object a check meets finds it in the record (who checked, when, where)."""
    draft = to_operation_draft(parse_json_body(OperationCreate, await request.body()), hub.limits)

    def run(tx: Tx) -> tuple[int, bytes]:
        views = (hub.view(c, caller) for c in operations.check(hub, tx, caller, draft))
        found = [{k: v for k, v in view.items() if k not in _NOT_YET} for view in views if view]
        return 200, dumps({"conflicts": found})

    return json_response(*await run_write(hub, run))


@router.get("", response_model=OperationListPublic)
async def list_operations(
    caller: CurrentParty,
    hub: HubDep,
    live: Annotated[bool, Query(description="Only those still declared or active.")] = False,
    after: Annotated[str | None, Query(description="The next_after of the previous page.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Your own operations, oldest first, a page at a time."""
    now = hub.clock()
    with hub.store.read() as uow:
        ops = uow.operations_of([caller.id], limit, after, now if live else None)
    next_after = ops[-1].id if len(ops) == limit else None
    body = {"operations": [operation_public(op, now) for op in ops], "next_after": next_after}
    return json_response(200, dumps(body))


@router.get("/{operation_id}", response_model=OperationPublic)
async def read_operation(operation_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """The owner and its coalition read it in full; to anyone else it does not exist (404, not 403)."""
    with hub.store.read() as uow:
        op = operations.readable(uow, caller, operation_id)
    return json_response(200, dumps(operation_public(op, hub.clock())), {"ETag": f'"{op.version}"'})


@router.put("/{operation_id}", response_model=OperationResultPublic)
async def change_operation(
    operation_id: str,
    body: OperationCreate,
    caller: CurrentParty,
    hub: HubDep,
    version: IfMatch,
    key: IdempotencyKey,
) -> Response:
    """Replace the operation's volumes and details. Needs ``If-Match: <version>`` (428 without, 412 when stale).
    Conflicts that no longer overlap are resolved; moved overlaps get a new revision to acknowledge."""
    draft = to_operation_draft(body, hub.limits)

    def run(tx: Tx) -> tuple[int, bytes]:
        result = operations.update(hub, tx, caller, operation_id, version, draft)
        return 200, dumps(_body(hub, caller, result))

    status, content = await run_write(
        hub,
        lambda tx: hub.idempotent(
            tx, caller, key, lambda: ["update", operation_id, version, body.model_dump(mode="json")], run
        ),
    )
    return json_response(status, content)


async def _stop(hub: Hub, caller: Party, operation_id: str, key: str | None, cancel: bool) -> Response:
    use_case = operations.cancel if cancel else operations.end

    def run(tx: Tx) -> tuple[int, bytes]:
        return 200, dumps({"operation": use_case(hub, tx, caller, operation_id).public})

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["cancel" if cancel else "end", operation_id], run)
    )
    return json_response(status, content)


@router.post("/{operation_id}/cancel", response_model=dict[str, OperationPublic])
async def cancel_operation(operation_id: str, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Cancel the operation; its open conflicts become resolved."""
    return await _stop(hub, caller, operation_id, key, cancel=True)


@router.post("/{operation_id}/end", response_model=dict[str, OperationPublic])
async def end_operation(operation_id: str, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """End an active operation early; its open conflicts become resolved."""
    return await _stop(hub, caller, operation_id, key, cancel=False)
