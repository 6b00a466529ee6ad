"""Request dependencies as ``Annotated`` aliases: the hub, the authenticated caller, write headers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, TypeVar

import orjson
from fastapi import Depends, Header, Request
from starlette.responses import Response

from deconfliction.core.errors import InvalidInput, PreconditionRequired, Unauthenticated
from deconfliction.core.model import Party
from deconfliction.service.hub import Hub, Tx, token_hash

T = TypeVar("T")


def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


async def current_party(hub: HubDep, authorization: Annotated[str | None, Header()] = None) -> Party:
    if not authorization:
        raise Unauthenticated("Send your token as 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    with hub.store.read() as uow:
        party = uow.party_by_token_hash(token_hash(token.strip()))
    if party is None:
        raise Unauthenticated("Unknown or rotated token; ask the hub's administrator for a current one.")
    return party


CurrentParty = Annotated[Party, Depends(current_party)]


def idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str | None:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InvalidInput("Idempotency-Key must be 1 to 200 characters.", {"header": "Idempotency-Key"})
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


def if_match(if_match: Annotated[str | None, Header()] = None) -> int:
    if if_match is None:
        raise PreconditionRequired(
            "Changing an operation needs 'If-Match: <version>' with the version you read.",
            {"header": "If-Match"},
        )
    text = if_match.strip().removeprefix("W/").strip('"')
    if not text.isdigit():
        raise InvalidInput("If-Match must be the operation's integer version, e.g. 'If-Match: 3'.")
    return int(text)


IfMatch = Annotated[int, Depends(if_match)]


async def run_write(hub: Hub, command: Callable[[Tx], T]) -> T:
    """Hand a use case to the group-commit writer and wait for its durable commit."""
    return await asyncio.wrap_future(hub.submit(command))


def json_response(status: int, content: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def dumps(data: object) -> bytes:
    return orjson.dumps(data)
