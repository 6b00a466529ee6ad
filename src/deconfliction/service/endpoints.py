"""Endpoints: a party's units (operations centre, squadrons, convoy leaders), each with its own token.

Every notice for a party reaches each of its endpoints that subscribes to it; the hub records, per endpoint, how far
it got. Tokens are random, shown once and stored hashed, like parties' tokens.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deconfliction.channel.webhooks import validate_webhook_url
from deconfliction.core.disclosure import iso_z_or_none
from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.health import WebhookState
from deconfliction.core.line import EVENT_FAMILIES, Endpoint
from deconfliction.core.model import Party
from deconfliction.service.hub import Hub, Tx, new_token, token_hash
from deconfliction.service.notices import log_delivered
from deconfliction.service.operations import require_party_role
from deconfliction.service.record import record_ref
from deconfliction.store.port import UnitOfWork


@dataclass(frozen=True, slots=True)
class EndpointDraft:
    name: str
    duty: bool = False
    subscriptions: frozenset[str] | None = None
    webhook_url: str | None = None


@dataclass(frozen=True, slots=True)
class Registered:
    endpoint: Endpoint
    token: str
    webhook_secret: str | None  # shown once, like the token; the receiver checks signatures with it


def _check(draft: EndpointDraft) -> None:
    if not 1 <= len(draft.name.strip()) <= 100:
        raise InvalidInput("An endpoint needs a name of 1 to 100 characters.", {"field": "name"})
    if draft.subscriptions is not None:
        unknown = sorted(draft.subscriptions - EVENT_FAMILIES)
        if unknown or not draft.subscriptions:
            raise InvalidInput(
                f"subscriptions must be a non-empty list of {sorted(EVENT_FAMILIES)}; unknown: {unknown}.",
                {"field": "subscriptions"},
            )
    if draft.webhook_url is not None:
        validate_webhook_url(draft.webhook_url)


def create(uow: UnitOfWork, owner: Party, draft: EndpointDraft, endpoint_id: str, now: datetime) -> Registered:
    """Store a new endpoint of ``owner`` (the API's and the admin CLI's common path)."""
    require_party_role(owner, "register endpoints")
    _check(draft)
    if uow.endpoint_named(owner.id, draft.name.strip()) is not None:
        raise InvalidInput(f"{owner.name!r} already has an endpoint named {draft.name!r}.", {"field": "name"})
    endpoint = Endpoint(
        id=endpoint_id,
        party_id=owner.id,
        name=draft.name.strip(),
        created_at=now,
        duty=draft.duty,
        subscriptions=draft.subscriptions,
        webhook_url=draft.webhook_url,
    )
    token = new_token()
    secret = secrets.token_hex(32) if draft.webhook_url else None
    uow.insert_endpoint(endpoint, token_hash(token), secret)
    data = {
        "endpoint_id": endpoint.id,
        "party_id": owner.id,
        "name": endpoint.name,
        "duty": endpoint.duty,
        "subscriptions": sorted(endpoint.subscriptions) if endpoint.subscriptions is not None else None,
        "webhook": endpoint.webhook_url is not None,
    }
    uow.record(now, "endpoint.registered", endpoint.id, data, [owner.id])
    return Registered(endpoint, token, secret)


def register(hub: Hub, tx: Tx, caller: Party, draft: EndpointDraft) -> Registered:
    registered = create(tx.uow, caller, draft, hub.new_id("ep", tx.now), tx.now)
    hub.refresh_endpoints(tx.uow)
    return registered


def own(uow: UnitOfWork, caller: Party, endpoint_id: str) -> Endpoint:
    ep = uow.endpoint(endpoint_id)
    if ep is None or ep.party_id != caller.id or ep.disabled:
        raise NotFound(f"You have no endpoint {endpoint_id!r}.", {"endpoint_id": endpoint_id})
    return ep


def rotate_token(hub: Hub, tx: Tx, caller: Party, endpoint_id: str) -> tuple[Endpoint, str]:
    ep = own(tx.uow, caller, endpoint_id)
    token = new_token()
    tx.uow.set_endpoint_token_hash(ep.id, token_hash(token))
    tx.uow.record(tx.now, "endpoint.token_rotated", ep.id, {"endpoint_id": ep.id, "party_id": caller.id}, [caller.id])
    return ep, token


def disable(hub: Hub, tx: Tx, caller: Party, endpoint_id: str) -> Endpoint:
    ep = own(tx.uow, caller, endpoint_id)
    tx.uow.disable_endpoint(ep.id)
    tx.uow.record(tx.now, "endpoint.disabled", ep.id, {"endpoint_id": ep.id, "party_id": caller.id}, [caller.id])
    hub.refresh_endpoints(tx.uow)
    return ep


def _log_deliveries(hub: Hub, tx: Tx, endpoint_id: str, party_id: str, delivered: list[tuple[str, int]]) -> None:
    for notice_id, seq in delivered:
        log_delivered(hub, tx, notice_id, endpoint_id, party_id, seq)


def mark_delivered(hub: Hub, tx: Tx, *, endpoint_id: str, party_id: str, upto_seq: int) -> None:
    """The endpoint's stream was sent its party's log up to ``upto_seq``."""
    _log_deliveries(hub, tx, endpoint_id, party_id, tx.uow.mark_delivered(endpoint_id, upto_seq, tx.now))


def record_push(hub: Hub, tx: Tx, *, endpoint: Endpoint, before: WebhookState, after: WebhookState) -> None:
    """Store how far the endpoint's webhook push got; tell its party when the push goes to dead-letter and when
    it recovers."""
    tx.uow.save_webhook_state(after)
    if after.pushed_seq > before.pushed_seq:
        delivered = tx.uow.mark_delivered(endpoint.id, after.pushed_seq, tx.now)
        _log_deliveries(hub, tx, endpoint.id, endpoint.party_id, delivered)
    if (after.dead_since is None) != (before.dead_since is None):
        type_ = "line.webhook_dead" if after.dead_since else "line.webhook_recovered"
        ref = record_ref(hub.secret, endpoint.id)
        record = {"party_id": endpoint.party_id, "endpoint_ref": ref, "last_error": after.last_error}
        tx.uow.record(tx.now, type_, endpoint.id, record, [endpoint.party_id])
        data = {"endpoint": endpoint.name, "endpoint_id": endpoint.id, **webhook_view(after)}
        hub.deliver(tx, endpoint.party_id, type_, data)


def webhook_view(state: WebhookState) -> dict[str, Any]:
    return {
        "state": state.state,
        "pushed_seq": state.pushed_seq,
        "attempts": state.attempts,
        "next_attempt_at": iso_z_or_none(state.next_attempt_at),
        "last_attempt_at": iso_z_or_none(state.last_attempt_at),
        "last_status": state.last_status,
        "last_error": state.last_error,
        "last_success_at": iso_z_or_none(state.last_success_at),
        "dead_since": iso_z_or_none(state.dead_since),
    }
