"""Request dependencies as ``Annotated`` aliases: the hub, the authenticated caller, write headers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import Depends, Header, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from deconfliction.core.errors import InvalidInput, PreconditionRequired, Unauthenticated
from deconfliction.core.line import Endpoint
from deconfliction.core.model import Party
from deconfliction.service.hub import Hub, Tx, token_hash

T = TypeVar("T")


async def get_hub(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


HubDep = Annotated[Hub, Depends(get_hub)]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling: a party, through one of its endpoints when the token is an endpoint's."""

    party: Party
    endpoint: Endpoint | None = None

    @property
    def endpoint_id(self) -> str | None:
        return self.endpoint.id if self.endpoint else None


class TokenCache:
    """Callers by token hash, kept for ``ttl_s`` seconds so that a request needs no database read to authenticate.
    Tokens are rotated by the admin CLI, another process: a rotated token stops working within ``ttl_s``."""

    def __init__(self, ttl_s: float = 2.0, max_entries: int = 10_000) -> None:
        self._ttl_s = ttl_s
        self._max = max_entries
        self._entries: dict[str, tuple[float, Caller]] = {}

    def caller(self, hub: Hub, token: str) -> Caller | None:
        digest = token_hash(token)
        now = time.monotonic()
        hit = self._entries.get(digest)
        if hit is not None and now - hit[0] < self._ttl_s:
            return hit[1]
        found: Caller | None = None
        with hub.store.read() as uow:
            party = uow.party_by_token_hash(digest)
            if party is not None:
                found = Caller(party)
            else:
                endpoint = uow.endpoint_by_token_hash(digest)
                owner = uow.party(endpoint.party_id) if endpoint else None
                if endpoint is not None and owner is not None:
                    found = Caller(owner, endpoint)
        if len(self._entries) >= self._max:
            self._entries.clear()
        if found is None:
            self._entries.pop(digest, None)
        else:
            self._entries[digest] = (now, found)
        return found


async def current_caller(
    request: Request, hub: HubDep, authorization: Annotated[str | None, Header()] = None
) -> Caller:
    if not authorization:
        raise Unauthenticated("Send your token as 'Authorization: Bearer <token>'.")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
    tokens: TokenCache = request.app.state.tokens
    caller = tokens.caller(hub, token.strip())
    if caller is None:
        raise Unauthenticated("Unknown or rotated token; ask the hub's administrator for a current one.")
    if caller.endpoint is not None and not hub.knows_endpoint(caller.endpoint):
        await refresh_endpoints(hub)  # made by the admin CLI, another process
    return caller


async def refresh_endpoints(hub: Hub) -> None:
    """Reload the hub's endpoints in the writer, so that no registration in flight is missed."""
    await run_write(hub, lambda tx: hub.refresh_endpoints(tx.uow))


CurrentCaller = Annotated[Caller, Depends(current_caller)]


async def current_party(caller: CurrentCaller) -> Party:
    return caller.party


CurrentParty = Annotated[Party, Depends(current_party)]


async def idempotency_key(idempotency_key: Annotated[str | None, Header()] = None) -> str | None:
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InvalidInput("Idempotency-Key must be 1 to 200 characters.", {"header": "Idempotency-Key"})
    return idempotency_key


IdempotencyKey = Annotated[str | None, Depends(idempotency_key)]


async def if_match(if_match: Annotated[str | None, Header()] = None) -> int:
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
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[T] = loop.create_future()

    def settle(done: Future[T]) -> None:
        if waiter.cancelled():
            return
        failure = done.exception()
        if failure is not None:
            waiter.set_exception(failure)
        else:
            waiter.set_result(done.result())

    hub.submit(command).add_done_callback(lambda done: loop.call_soon_threadsafe(settle, done))
    return await waiter


def json_response(status: int, content: bytes, headers: dict[str, str] | None = None) -> Response:
    return Response(content, status_code=status, media_type="application/json", headers=headers)


def dumps(data: object) -> bytes:
    return orjson.dumps(data)


M = TypeVar("M", bound=BaseModel)


def parse_json_body(model: type[M], raw: bytes) -> M:
    """Validate a JSON body straight from bytes (pydantic-core parses and validates in one pass, several times
    faster than FastAPI's json.loads then validate on the hot path); errors take the usual 400/422 shape."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the endpoint reads itself with ``parse_json_body``."""
    schema = model.model_json_schema()  # nested models stay in its own $defs (OpenAPI 3.1 is JSON Schema 2020-12)
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}
