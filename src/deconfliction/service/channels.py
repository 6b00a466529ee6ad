"""Channels: standing lines between parties. The administrator opens them active; a party proposes one and it
becomes active once every other member has accepted."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from deconfliction.core.disclosure import iso_z
from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.line import Channel
from deconfliction.core.model import Party, Role
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.operations import require_party_role

PROPOSED = "channel.proposed"
ACTIVE = "channel.active"


def view(hub: Hub, ch: Channel) -> dict[str, Any]:
    return {
        "id": ch.id,
        "name": ch.name,
        "state": "active" if ch.active else "proposed",
        "members": [
            {"id": p, "name": hub.parties[p].name if p in hub.parties else None, "accepted": p in ch.accepted}
            for p in sorted(ch.members)
        ],
        "created_by": ch.created_by,
        "created_at": iso_z(ch.created_at),
    }


def _members(hub: Hub, tx: Tx, members: list[str]) -> frozenset[str]:
    hub.refresh_parties(tx.uow)
    for party_id in members:
        party = hub.parties.get(party_id)
        if party is None:
            raise InvalidInput(f"No party {party_id!r}; GET /v1/parties lists them.", {"field": "members"})
        if party.role is not Role.PARTY:
            raise InvalidInput(f"{party.name!r} is a monitor; channels join parties.", {"field": "members"})
    return frozenset(members)


def create(hub: Hub, tx: Tx, proposer: Party | None, name: str, members: list[str]) -> Channel:
    """``proposer`` None: the administrator, and the channel is active at once."""
    if not 1 <= len(name.strip()) <= 100:
        raise InvalidInput("A channel needs a name of 1 to 100 characters.", {"field": "name"})
    chosen = set(members) | ({proposer.id} if proposer else set())
    if len(chosen) < 2:
        raise InvalidInput("A channel joins at least two parties.", {"field": "members"})
    if proposer is not None:
        require_party_role(proposer, "propose channels")
    member_ids = _members(hub, tx, sorted(chosen))
    ch = Channel(
        id=hub.new_id("ch", tx.now),
        name=name.strip(),
        members=member_ids,
        accepted=frozenset({proposer.id}) if proposer else member_ids,
        created_by=proposer.id if proposer else None,
        created_at=tx.now,
    )
    tx.uow.insert_channel(ch)
    event = ACTIVE if ch.active else PROPOSED
    tx.uow.record(tx.now, "channel.created", ch.id, view(hub, ch), ch.members)
    for party_id in ch.members:
        hub.deliver(tx, party_id, event, view(hub, ch))
    return ch


def accept(hub: Hub, tx: Tx, caller: Party, channel_id: str) -> Channel:
    ch = tx.uow.channel(channel_id)
    if ch is None or caller.id not in ch.members:
        raise NotFound(f"You are in no channel {channel_id!r}.", {"channel_id": channel_id})
    if caller.id in ch.accepted:
        return ch
    tx.uow.accept_channel(ch.id, caller.id, tx.now)
    accepted = replace(ch, accepted=ch.accepted | {caller.id})
    tx.uow.record(tx.now, "channel.accepted", ch.id, {"party_id": caller.id, **view(hub, accepted)}, ch.members)
    if accepted.active:
        for party_id in accepted.members:
            hub.deliver(tx, party_id, ACTIVE, view(hub, accepted))
    return accepted
