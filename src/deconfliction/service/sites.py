"""Use cases on protected sites: notify, withdraw, and which sites a party has been notified of."""

from __future__ import annotations

from dataclasses import dataclass, replace

from deconfliction.core.disclosure import site_public
from deconfliction.core.errors import InvalidInput, InvalidTransition, NotFound
from deconfliction.core.model import Conflict, ObjectType, Party, Resolution, Site
from deconfliction.core.volumes import Volume4D
from deconfliction.service.conflicts import Subject, reconcile
from deconfliction.service.hub import KIND_SITE, Hub, Tx
from deconfliction.service.operations import require_party_role


@dataclass(frozen=True, slots=True)
class SiteDraft:
    name: str
    category: str
    volume: Volume4D  # altitude None: protected from the surface up
    recipients: frozenset[str] | None


@dataclass(frozen=True, slots=True)
class SiteResult:
    site: Site
    conflicts: list[Conflict]


def _log(hub: Hub, tx: Tx, kind: str, site: Site) -> None:
    """The site's entry in the record, shown to its owner and its recipients (every party when there is no list),
    and an event to each of them: a site notified must reach every unit that might fire on it, not wait to be
    listed."""
    visible = None if site.recipients is None else {site.party_id, *site.recipients}
    document = site_public(site)
    tx.uow.record(tx.now, kind, site.id, document, visible)
    for party_id in sorted(hub.parties if visible is None else visible):
        hub.deliver(tx, party_id, kind, document)


def notify(hub: Hub, tx: Tx, caller: Party, draft: SiteDraft) -> SiteResult:
    require_party_role(caller, "notify protected sites")
    if draft.volume.time.end <= tx.now:
        raise InvalidInput("valid_to is in the past; a protected site must be valid after now.", {"field": "valid_to"})
    if draft.recipients is not None:
        unknown = sorted(r for r in draft.recipients if tx.uow.party(r) is None)
        if unknown:
            raise InvalidInput(
                "Unknown recipient party ids; list existing party ids, or omit recipients to notify every party.",
                {"unknown_recipients": unknown},
            )
    site = Site(
        id=hub.new_id("site", tx.now),
        party_id=caller.id,
        version=1,
        name=draft.name,
        category=draft.category,
        volume=draft.volume,
        created_at=tx.now,
        recipients=draft.recipients,
    )
    tx.uow.insert_site(site)
    _log(hub, tx, "site.notified", site)
    subject = Subject(ObjectType.SITE, site.id, caller, (site.volume,), site.recipients)
    conflicts = reconcile(hub, tx, subject, True, Resolution.CHANGED)
    hub.index_volume((ObjectType.SITE, site.id, 0), site.volume, caller.id, caller.coalition_id, KIND_SITE)
    hub.site_recipients[site.id] = site.recipients
    return SiteResult(site, conflicts)


def withdraw(hub: Hub, tx: Tx, caller: Party, site_id: str) -> SiteResult:
    require_party_role(caller, "withdraw protected sites")
    site = tx.uow.site(site_id)
    if site is None or site.party_id != caller.id:
        raise NotFound(f"No protected site {site_id!r} of yours.", {"site_id": site_id})
    if site.withdrawn:
        raise InvalidTransition(f"Protected site {site_id!r} is already withdrawn.", {"site_id": site_id})
    withdrawn = replace(site, withdrawn=True, version=site.version + 1)
    tx.uow.update_site(withdrawn)
    _log(hub, tx, "site.withdrawn", withdrawn)
    hub.index.remove((ObjectType.SITE, site.id, 0))
    hub.site_recipients.pop(site.id, None)
    reconcile(hub, tx, Subject(ObjectType.SITE, site.id, caller, ()), False, Resolution.WITHDRAWN)
    return SiteResult(withdrawn, [])
