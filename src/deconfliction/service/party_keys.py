"""Parties' Ed25519 public keys, and acknowledgements signed with them.

A party registers public keys (``POST /v1/parties/{id}/keys``) and may then sign what it acknowledges: the
signature covers ``core.record.ack_digest`` of the party, the conflict, its revision, the leaf hash of the logged
notice it answers (the ``receipt.leaf_hash`` its event carried) and the time it signed. The hub checks the
signature before it stores the acknowledgement; the record keeps signature and key id, so anyone holding the
party's public key can check it later without trusting the hub.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from deconfliction.core.disclosure import iso_z
from deconfliction.core.errors import Forbidden, InvalidInput, NotFound
from deconfliction.core.model import Party, Role
from deconfliction.core.record import (
    SIGNATURE_SIZE,
    Acknowledgement,
    PartyKey,
    ack_digest,
    ack_message,
    public_key_from_hex,
    to_ms,
    verify_ack,
)
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.record import from_ms
from deconfliction.store.port import UnitOfWork

MAX_SKEW = timedelta(minutes=5)
CONFLICT_NOTICES = ("conflict.opened", "conflict.changed")
MESSAGE_NOTICES = ("message.sent",)


@dataclass(frozen=True, slots=True)
class SignedAck:
    signature: str  # 128 hex digits
    signed_at: datetime
    key_id: str | None = None


def key_view(key: PartyKey) -> dict[str, Any]:
    return {
        "key_id": key.id,
        "party_id": key.party_id,
        "algorithm": "Ed25519",
        "public_key": key.public_key,
        "created_at": from_ms(key.created_at_ms),
        "revoked_at": from_ms(key.revoked_at_ms) if key.revoked_at_ms is not None else None,
    }


def _own(caller: Party, party_id: str) -> None:
    if caller.id != party_id:
        raise NotFound(f"You can manage only your own keys; you are {caller.id!r}.", {"party_id": party_id})


def register(hub: Hub, tx: Tx, caller: Party, party_id: str, public_key: str) -> PartyKey:
    if caller.role is not Role.PARTY:
        raise Forbidden("A monitor acknowledges nothing and needs no signing key. Use a party's token.")
    _own(caller, party_id)
    text = public_key.strip().lower()
    try:
        public_key_from_hex(text)
    except ValueError as exc:
        raise InvalidInput(f"public_key: {exc} (the raw 32-byte Ed25519 public key).", {"field": "public_key"}) from exc
    existing = tx.uow.party_key_by_value(text)
    if existing is not None:
        if existing.party_id != caller.id:
            raise InvalidInput("This public key is registered to another party.", {"field": "public_key"})
        return existing  # registering the same key again changes nothing
    key = PartyKey(hub.new_id("key", tx.now), caller.id, text, to_ms(tx.now))
    tx.uow.insert_party_key(key)
    tx.uow.record(tx.now, "party.key_registered", key.id, key_view(key), None)
    return key


def revoke(hub: Hub, tx: Tx, caller: Party, party_id: str, key_id: str) -> PartyKey:
    _own(caller, party_id)
    key = tx.uow.party_key(key_id)
    if key is None or key.party_id != caller.id:
        raise NotFound(f"You have no key {key_id!r}.", {"key_id": key_id})
    if key.revoked_at_ms is not None:
        return key
    tx.uow.revoke_party_key(key.id, to_ms(tx.now))
    revoked = PartyKey(key.id, key.party_id, key.public_key, key.created_at_ms, to_ms(tx.now))
    tx.uow.record(tx.now, "party.key_revoked", key.id, key_view(revoked), None)
    return revoked


def keys_of(uow: UnitOfWork, party_id: str) -> list[PartyKey]:
    """Any party may read any party's public keys: they exist to be checked by others."""
    if uow.party(party_id) is None:
        raise NotFound(f"No party {party_id!r}.", {"party_id": party_id})
    return uow.party_keys(party_id)


def check_signed_ack(
    tx: Tx, caller: Party, object_id: str, revision: int, notice_kinds: tuple[str, ...], signed: SignedAck
) -> str:
    """The id of the caller's key that signed this acknowledgement of ``object_id`` at ``revision`` (answering the
    last logged entry of ``notice_kinds`` about it); a 400 that shows exactly what should have been signed when
    none does. Call it before writing anything."""
    if abs(signed.signed_at - tx.now) > MAX_SKEW:
        raise InvalidInput(
            f"signed_at is {iso_z(signed.signed_at)}, more than 5 minutes from the hub's clock ({iso_z(tx.now)}); "
            "sign with the current time.",
            {"field": "signed_at"},
        )
    try:
        signature = bytes.fromhex(signed.signature)
    except ValueError:
        signature = b""
    if len(signature) != SIGNATURE_SIZE:
        raise InvalidInput("signature must be 128 hex digits (an Ed25519 signature).", {"field": "signature"})
    notice = tx.uow.audit_latest(object_id, notice_kinds)
    if notice is None:
        raise InvalidInput("There is no logged notice to acknowledge with a signature.")
    keys = [k for k in tx.uow.party_keys(caller.id) if k.revoked_at_ms is None]
    if signed.key_id is not None:
        keys = [k for k in keys if k.id == signed.key_id]
    if not keys:
        raise InvalidInput(
            "You have no such active signing key; register one with POST /v1/parties/{id}/keys.", {"field": "key_id"}
        )
    ack = Acknowledgement(caller.id, object_id, revision, notice.leaf_hash, to_ms(signed.signed_at))
    for key in keys:
        if verify_ack(public_key_from_hex(key.public_key), ack, signature):
            return key.id
    raise InvalidInput(
        "The signature does not verify with your active keys. Sign SHA-256 of the message below (its digest is "
        "given too) with Ed25519.",
        {"field": "signature", "message": ack_message(ack).decode(), "digest": ack_digest(ack).hex()},
    )
