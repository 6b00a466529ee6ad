"""``/v1/audit``: the record. Its key, signed heads, entries as the caller may see them, and Merkle proofs.

Everything here is served up to the latest signed head, so that every answer can be checked against a signature.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.responses import Response

from deconfliction.api.deps import CurrentParty, HubDep, dumps, json_response
from deconfliction.core.errors import InvalidInput
from deconfliction.core.record import SignedHead
from deconfliction.service.hub import Hub
from deconfliction.service.record import entry_json, head_json

router = APIRouter(prefix="/v1/audit", tags=["record"])


def _head(hub: Hub) -> SignedHead:
    head = hub.audit.latest()
    if head is None:  # the hub signs one at start-up; this is only a hub still starting
        raise InvalidInput("The record has no signed head yet; try again in a second.")
    return head


def _within(what: str, value: int, size: int) -> None:
    if not 0 <= value <= size:
        raise InvalidInput(
            f"{what}={value} is outside the signed log (0 to {size}); GET /v1/audit/head gives its size.",
            {"field": what, "size": size},
        )


@router.get("/key")
async def audit_key(caller: CurrentParty, hub: HubDep) -> Response:
    """The hub's Ed25519 public key (raw, 64 hex digits): it signs tree heads and receipts, nothing else. Keep a
    copy obtained out of band; `deconfliction audit verify --key` checks bundles with it."""
    return json_response(200, dumps({"algorithm": "Ed25519", "public_key": hub.audit.public_key_hex}))


@router.get("/head")
async def audit_head(caller: CurrentParty, hub: HubDep) -> Response:
    """The latest signed tree head: `size`, `root_hash`, `timestamp_ms` and the Ed25519 `signature` over RFC 9162's
    TreeHeadDataV2 (timestamp, size, root hash). Every change batch has one (it covers every write answered before
    you asked), and one is made at least once a minute. Keep the heads you fetch: comparing them with another
    party's (`audit compare`) exposes a forked log."""
    return json_response(200, dumps(head_json(_head(hub))))


@router.get("/entries")
async def audit_entries(
    caller: CurrentParty,
    hub: HubDep,
    after: Annotated[int, Query(ge=0, description="Skip the first N entries (a size you already hold).")] = 0,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> Response:
    """Entries `after`, `after + 1`, … up to the signed head: every entry's index, time and leaf hash, and the
    salted document (canonical JSON, the exact bytes its leaf commits to) of those you may read. The leaf hash is
    RFC 9162's `SHA-256(0x00 || SHA-256(document))`."""
    size = _head(hub).head.size
    _within("after", after, size)
    with hub.store.read() as uow:
        found = uow.audit_entries(after, min(limit, size - after)) if after < size else []
    body = {
        "size": size,
        "entries": [entry_json(e, caller.id) for e in found],
        "next_after": after + len(found) if after + len(found) < size else None,
    }
    return json_response(200, dumps(body))


@router.get("/proof/inclusion")
async def inclusion_proof(
    caller: CurrentParty,
    hub: HubDep,
    index: Annotated[int, Query(ge=0)],
    size: Annotated[int | None, Query(ge=1, description="A tree size; default: the signed head's.")] = None,
) -> Response:
    """The RFC 9162 inclusion proof (audit path) of leaf `index` in the tree of the first `size` leaves."""
    signed = _head(hub).head.size
    size = signed if size is None else size
    _within("size", size, signed)
    if index >= size:
        raise InvalidInput(f"index={index} is not below size={size}.", {"field": "index"})
    tree = hub.audit.tree
    body = {
        "index": index,
        "size": size,
        "leaf_hash": tree.leaf_hash(index).hex(),
        "root_hash": tree.root(size).hex(),
        "proof": [h.hex() for h in tree.inclusion_proof(index, size)],
    }
    return json_response(200, dumps(body))


@router.get("/proof/consistency")
async def consistency_proof(
    caller: CurrentParty,
    hub: HubDep,
    from_: Annotated[int, Query(alias="from", ge=0)],
    to: Annotated[int | None, Query(ge=0, description="Default: the signed head's size.")] = None,
) -> Response:
    """The RFC 9162 consistency proof that the tree of `from` leaves is a prefix of the tree of `to` leaves."""
    signed = _head(hub).head.size
    to = signed if to is None else to
    _within("to", to, signed)
    if from_ > to:
        raise InvalidInput(f"from={from_} is above to={to}.", {"field": "from"})
    tree = hub.audit.tree
    body = {
        "from": from_,
        "to": to,
        "root_from": tree.root(from_).hex(),
        "root_to": tree.root(to).hex(),
        "proof": [h.hex() for h in tree.consistency_proof(from_, to)],
    }
    return json_response(200, dumps(body))
