"""``/v1/alerts``: tactical alerts between live tracks, as the caller may see them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, dumps, json_response
from deconfliction.core.errors import NotFound
from deconfliction.core.model import Role
from deconfliction.service import tactical

router = APIRouter(prefix="/v1/alerts", tags=["alerts"])


@router.get("")
async def list_alerts(
    caller: CurrentParty,
    hub: HubDep,
    status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> Response:
    """Your alerts, newest first (every party's, for a monitor): a predicted loss of separation between one of your
    tracks and another party's, with the time to it and the closest point of approach. The other track appears
    only as an opaque ref with its position and movement."""
    with hub.store.read() as uow:
        found = uow.alerts_of(None if caller.role is Role.MONITOR else caller.id, status, limit)
        views = [tactical.view(hub, uow, a, caller.id) for a in found]
    return json_response(200, dumps({"alerts": [v for v in views if v]}))


@router.get("/{alert_id}")
async def get_alert(alert_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    with hub.store.read() as uow:
        alert = uow.alert(alert_id)
        data = tactical.view(hub, uow, alert, caller.id) if alert else None
    if data is None:
        raise NotFound(f"No alert {alert_id!r} among yours.", {"alert_id": alert_id})
    return json_response(200, dumps(data))
