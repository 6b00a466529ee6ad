"""Administration: coalitions, parties and their tokens. Tokens are random, shown once and stored hashed."""

from __future__ import annotations

import secrets
from datetime import datetime

from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.model import Coalition, Party, Role
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
    return coalition


def create_party(uow: UnitOfWork, name: str, role: Role, coalition: str | None, now: datetime) -> tuple[Party, str]:
    """Create a party (and its coalition, if new); returns it with its token, which is not stored anywhere."""
    if not name.strip():
        raise InvalidInput("A party needs a non-empty name.")
    if uow.party_by_name(name) is not None:
        raise InvalidInput(f"A party named {name!r} already exists; rotate its token instead.")
    if role is Role.MONITOR and coalition is not None:
        raise InvalidInput("A monitor belongs to no coalition; drop --coalition.")
    coalition_id = None
    if coalition is not None:
        found = uow.coalition_by_name(coalition) or create_coalition(uow, coalition, now)
        coalition_id = found.id
    party = Party(id=_id("pty"), name=name, role=role, coalition_id=coalition_id)
    token = new_token()
    uow.insert_party(party, token_hash(token), now)
    return party, token


def rotate_token(uow: UnitOfWork, party: str) -> tuple[Party, str]:
    """Give the party (by id or name) a new token; the old one is no longer stored anywhere."""
    found = uow.party(party) or uow.party_by_name(party)
    if found is None:
        raise NotFound(f"No party with id or name {party!r}.")
    token = new_token()
    uow.set_token_hash(found.id, token_hash(token))
    return found, token
