"""``/v1/me`` and ``/v1/parties``: who the caller is, and who shares the theatre (to address sites)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, dumps, json_response

router = APIRouter(prefix="/v1", tags=["parties"])


@router.get("/me")
async def me(caller: CurrentParty) -> Response:
    return json_response(
        200,
        dumps(
            {
                "id": caller.id,
                "name": caller.name,
                "role": str(caller.role),
                "coalition_id": caller.coalition_id,
            }
        ),
    )


@router.get("/parties")
async def parties(caller: CurrentParty, hub: HubDep) -> Response:
    """Every party's id, name and role: enough to address a protected site, nothing about their plans."""
    with hub.store.read() as uow:
        found = uow.parties()
    return json_response(200, dumps({"parties": [{"id": p.id, "name": p.name, "role": str(p.role)} for p in found]}))
