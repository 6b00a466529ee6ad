"""``/v1/sites``: notify and withdraw protected sites; read those notified to you."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, IdempotencyKey, dumps, json_response, run_write
from deconfliction.api.schemas import SiteCreate, SitePublic, SiteResultPublic, to_volume_parts
from deconfliction.core.disclosure import site_public
from deconfliction.core.errors import NotFound
from deconfliction.service import sites
from deconfliction.service.hub import Tx

router = APIRouter(prefix="/v1/sites", tags=["protected sites"])


@router.post("", status_code=201, response_model=SiteResultPublic)
async def notify_site(body: SiteCreate, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Notify a protected site (hospital, school, aid warehouse, a convoy route as a LineString + radius_m…).
    It is protected from the surface up during its validity, against the operations of its recipients."""

    def run(tx: Tx) -> tuple[int, bytes]:
        valid_from = body.valid_from or tx.now
        valid_to = body.valid_to or valid_from + timedelta(days=365)
        volume = to_volume_parts(body.footprint, body.radius_m, valid_from, valid_to, hub.limits)
        recipients = frozenset(body.recipients) if body.recipients is not None else None
        draft = sites.SiteDraft(body.name, body.category, volume, recipients)
        result = sites.notify(hub, tx, caller, draft)
        views = [hub.view(c, caller) for c in result.conflicts]
        return 201, dumps({"site": site_public(result.site), "conflicts": [v for v in views if v]})

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["site", body.model_dump(mode="json")], run)
    )
    return json_response(status, content)


@router.get("", response_model=dict[str, list[SitePublic]])
async def list_sites(caller: CurrentParty, hub: HubDep) -> Response:
    """Your sites and the sites notified to you."""
    with hub.store.read() as uow:
        found = uow.sites_visible_to(caller.id)
    return json_response(200, dumps({"sites": [site_public(s) for s in found]}))


@router.get("/{site_id}", response_model=SitePublic)
async def read_site(site_id: str, caller: CurrentParty, hub: HubDep) -> Response:
    with hub.store.read() as uow:
        site = uow.site(site_id)
    if site is None or not (site.party_id == caller.id or site.notified_to(caller.id)):
        raise NotFound(f"No protected site {site_id!r} notified to you.", {"site_id": site_id})
    return json_response(200, dumps(site_public(site)))


@router.post("/{site_id}/withdraw", response_model=dict[str, SitePublic])
async def withdraw_site(site_id: str, caller: CurrentParty, hub: HubDep, key: IdempotencyKey) -> Response:
    """Withdraw your protected site; its open conflicts become resolved."""

    def run(tx: Tx) -> tuple[int, bytes]:
        return 200, dumps({"site": site_public(sites.withdraw(hub, tx, caller, site_id).site)})

    status, content = await run_write(
        hub, lambda tx: hub.idempotent(tx, caller, key, lambda: ["withdraw", site_id], run)
    )
    return json_response(status, content)
