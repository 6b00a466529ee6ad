"""Line tests and line health: ``/v1/line-tests/{id}/answer``, ``/v1/parties/{id}/line`` and ``…/line/test``."""

from __future__ import annotations

from fastapi import APIRouter
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
from deconfliction.api.line_schemas import LineTestAnswer, LineTestRequested, PartyLine
from deconfliction.service import line_health
from deconfliction.service.hub import Tx

router = APIRouter(prefix="/v1", tags=["line"])


@router.post("/line-tests/{test_id}/answer", response_model=LineTestAnswer)
async def answer_line_test(test_id: str, who: CurrentCaller, hub: HubDep) -> Response:
    """Answer a ``line.test`` event, with the token of the endpoint it was sent to, before its ``answer_by``.
    Answering again is harmless."""
    done = await run_write(hub, lambda tx: line_health.answer(hub, tx, who.party, who.endpoint, test_id))
    return json_response(200, dumps(done))


@router.get("/parties/{party_id}/line", response_model=PartyLine)
async def party_line(party_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    """The line to a party, endpoint by endpoint: state (``up | degraded | down``), last seen, round-trip time.
    Yours, your coalition partners', and those of parties you share an active channel with; monitors see all."""
    with hub.store.read() as uow:
        view = line_health.line_view(hub, uow, caller, party_id, hub.clock())
    return json_response(200, dumps(view))


@router.post("/parties/{party_id}/line/test", status_code=202, response_model=LineTestRequested)
async def request_line_test(party_id: str, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Send every endpoint of the party a line test now; see the answers in ``GET /v1/parties/{id}/line``."""

    def run(tx: Tx) -> tuple[int, bytes]:
        return 202, dumps(line_health.request(hub, tx, caller, party_id))

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["line-test", party_id], run)
    )
    return json_response(status, content)
