"""Administration: coalitions, parties and their tokens. Tokens are random, shown once and stored hashed."""

from __future__ import annotations

import secrets
from datetime import datetime

from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.line import Channel
from deconfliction.core.model import Coalition, Party, Role
from deconfliction.core.templates import LANGUAGES
from deconfliction.service.hub import new_token, token_hash
from deconfliction.store.port import UnitOfWork


def _id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(8)}"


def create_coalition(uow: UnitOfWork, name: str, now: datetime) -> Coalition:
    if not name.strip():
        raise InvalidInput("A coalition needs a non-empty name.")
    if uow.coalition_by_name(name) is not None:
        raise InvalidInput(f"A coalition named {name!r} already exists.")
    coalition = Coalition(id=_id("co"), name=name)
    uow.insert_coalition(coalition, now)
    uow.record(now, "coalition.created", coalition.id, {"coalition_id": coalition.id, "name": name}, ())
    return coalition


def create_party(
    uow: UnitOfWork, name: str, role: Role, coalition: str | None, now: datetime, language: str = "en"
) -> tuple[Party, str]:
    """Create a party (and its coalition, if new); returns it with its token, which is not stored anywhere.
    ``language``: the one message templates are rendered in for it."""
    if not name.strip():
        raise InvalidInput("A party needs a non-empty name.")
    if language not in LANGUAGES:
        raise InvalidInput(f"Unknown language {language!r}; templates are rendered in {', '.join(LANGUAGES)}.")
    if uow.party_by_name(name) is not None:
        raise InvalidInput(f"A party named {name!r} already exists; rotate its token instead.")
    if role is Role.MONITOR and coalition is not None:
        raise InvalidInput("A monitor belongs to no coalition; drop --coalition.")
    coalition_id = None
    if coalition is not None:
        found = uow.coalition_by_name(coalition) or create_coalition(uow, coalition, now)
        coalition_id = found.id
    party = Party(id=_id("pty"), name=name, role=role, coalition_id=coalition_id, language=language)
    token = new_token()
    uow.insert_party(party, token_hash(token), now)
    data = {"party_id": party.id, "name": name, "role": str(role), "coalition_id": coalition_id, "language": language}
    uow.record(now, "party.created", party.id, data, [party.id])
    return party, token


def rotate_token(uow: UnitOfWork, party: str, now: datetime) -> tuple[Party, str]:
    """Give the party (by id or name) a new token; the old one is no longer stored anywhere."""
    found = find_party(uow, party)
    token = new_token()
    uow.set_token_hash(found.id, token_hash(token))
    uow.record(now, "party.token_rotated", found.id, {"party_id": found.id}, [found.id])
    return found, token


def find_party(uow: UnitOfWork, party: str) -> Party:
    found = uow.party(party) or uow.party_by_name(party)
    if found is None:
        raise NotFound(f"No party with id or name {party!r}.")
    return found


def create_channel(uow: UnitOfWork, name: str, members: list[str], now: datetime) -> Channel:
    """An active channel between parties (ids or names), opened by the administrator: no acceptance needed."""
    if not name.strip():
        raise InvalidInput("A channel needs a non-empty name.")
    found = {find_party(uow, m) for m in members}
    if len(found) < 2 or any(p.role is not Role.PARTY for p in found):
        raise InvalidInput("A channel joins at least two parties (not monitors).")
    ids = frozenset(p.id for p in found)
    channel = Channel(id=_id("ch"), name=name.strip(), members=ids, accepted=ids, created_by=None, created_at=now)
    uow.insert_channel(channel)
    data = {"channel_id": channel.id, "name": channel.name, "members": sorted(ids), "opened_by": "administrator"}
    uow.record(now, "channel.created", channel.id, data, ids)
    return channel
