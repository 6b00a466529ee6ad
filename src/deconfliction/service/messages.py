"""Messages over the line: to named parties or a channel, free text or a structured template, each with a priority
and an acknowledgement deadline. Each recipient reads a template in its own language.

The sender sees, per recipient party, how far the message got and at which of its endpoints — by name for
coalition partners, by an opaque reference for everyone else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deconfliction.channel.templates import load_catalog
from deconfliction.core.disclosure import endpoint_label, endpoint_ref, iso_z, iso_z_or_none
from deconfliction.core.errors import InvalidInput, NotFound
from deconfliction.core.line import DELIVERY_STATES, Message, Notice, NoticeKind, Priority
from deconfliction.core.model import Party
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.notices import ack_window_s, acknowledge_notice, log_delivered, new_notice
from deconfliction.service.operations import require_party_role
from deconfliction.service.party_keys import MESSAGE_NOTICES, SignedAck, check_signed_ack
from deconfliction.service.record import log_about, record_ref
from deconfliction.store.port import UnitOfWork

RECEIVED = "message.received"
RESENT = "message.resent"
ACKNOWLEDGED = "message.acknowledged"
MAX_ACK_WITHIN_S = 30 * 86_400


@dataclass(frozen=True, slots=True)
class MessageDraft:
    priority: Priority
    to: tuple[str, ...] | None = None
    channel: str | None = None
    template: str | None = None
    fields: dict[str, Any] | None = None
    body: str | None = None
    ack_within_s: float | None = None
    refs: tuple[str, ...] = ()


def _recipients(tx: Tx, hub: Hub, caller: Party, draft: MessageDraft) -> tuple[str, ...]:
    if (draft.to is None) == (draft.channel is None):
        raise InvalidInput("Address the message with exactly one of 'to' (party ids) or 'channel' (a channel id).")
    if draft.channel is not None:
        channel = tx.uow.channel(draft.channel)
        if channel is None or caller.id not in channel.members:
            raise NotFound(f"You are in no channel {draft.channel!r}.", {"field": "channel"})
        if not channel.active:
            waiting = sorted(channel.members - channel.accepted)
            raise InvalidInput(
                f"Channel {channel.id!r} is not active yet: waiting for {waiting} to accept it.", {"field": "channel"}
            )
        return tuple(sorted(channel.members - {caller.id}))
    assert draft.to is not None
    recipients = tuple(dict.fromkeys(draft.to))
    if not recipients:
        raise InvalidInput("'to' must name at least one party.", {"field": "to"})
    if caller.id in recipients:
        raise InvalidInput("You cannot send a message to yourself; leave your own id out of 'to'.", {"field": "to"})
    if not all(p in hub.parties for p in recipients):
        hub.refresh_parties(tx.uow)  # perhaps made by the admin CLI since
    unknown = next((p for p in recipients if p not in hub.parties), None)
    if unknown is not None:
        raise InvalidInput(f"No party {unknown!r}; GET /v1/parties lists them.", {"field": "to"})
    return recipients


def send(hub: Hub, tx: Tx, caller: Party, draft: MessageDraft) -> Message:
    require_party_role(caller, "send messages")
    recipients = _recipients(tx, hub, caller, draft)
    fields = None
    if draft.template is not None:
        fields = load_catalog().validate(draft.template, draft.fields or {})
    elif draft.fields:
        raise InvalidInput("'fields' go with a 'template'; name the template or send a 'body'.", {"field": "fields"})
    elif not (draft.body and draft.body.strip()):
        raise InvalidInput("A message needs a 'template' with its fields, or a non-empty 'body'.", {"field": "body"})
    window = draft.ack_within_s if draft.ack_within_s is not None else ack_window_s(hub.settings, draft.priority)
    if not 1 <= window <= MAX_ACK_WITHIN_S:
        raise InvalidInput(f"ack_within_s must be 1 to {MAX_ACK_WITHIN_S} seconds.", {"field": "ack_within_s"})
    message = Message(
        id=hub.new_id("msg", tx.now),
        sender_id=caller.id,
        recipients=recipients,
        priority=draft.priority,
        created_at=tx.now,
        ack_within_s=window,
        channel_id=draft.channel,
        template=draft.template,
        fields=fields,
        body=draft.body,
        refs=draft.refs,
    )
    tx.uow.insert_message(message)
    record = {k: v for k, v in recipient_view(hub, message, caller, None).items() if k != "rendered"}
    entry = tx.uow.record(tx.now, "message.sent", message.id, record, {caller.id, *recipients})
    receipt = tx.receipts.add(entry)
    for party_id in recipients:
        notice = new_notice(tx, NoticeKind.MESSAGE, message.id, party_id, caller.id, draft.priority, window)
        tx.uow.insert_notice(notice)
        recipient = hub.party(tx.uow, party_id)
        data = {**recipient_view(hub, message, recipient, notice), "receipt": receipt}
        hub.deliver(tx, party_id, RECEIVED, data, notice_id=message.id)
    return message


def recipient_view(hub: Hub, message: Message, viewer: Party, notice: Notice | None) -> dict[str, Any]:
    """The message as a recipient reads it: rendered in its language when it is a template."""
    sender = hub.parties.get(message.sender_id)
    view: dict[str, Any] = {
        "id": message.id,
        "from": {"id": message.sender_id, "name": sender.name if sender else None},
        "to": list(message.recipients),
        "channel": message.channel_id,
        "priority": str(message.priority),
        "template": message.template,
        "fields": message.fields,
        "body": message.body,
        "refs": list(message.refs),
        "created_at": iso_z(message.created_at),
        "ack_within_s": message.ack_within_s,
    }
    if message.template is not None:
        rendered = load_catalog().render(message.template, message.fields or {}, viewer.language)
        view["rendered"] = {"lang": rendered.lang, "title": rendered.title, "body": rendered.body}
    if notice is not None:
        view["deadline_at"] = iso_z(notice.deadline_at)
        view["acknowledged_at"] = iso_z_or_none(notice.acknowledged_at)
        view["escalation"] = notice.step.label
    return view


def sender_view(hub: Hub, uow: UnitOfWork, message: Message, viewer: Party) -> dict[str, Any]:
    """The message as its sender sees it, with how far it got at each recipient party and endpoint."""
    view = recipient_view(hub, message, viewer, None)
    deliveries = uow.deliveries_of(message.id)
    endpoints = {ep.id: ep for eps in hub.endpoints.values() for ep in eps}
    recipients = []
    for notice in uow.notices_of(message.id):
        party = hub.parties.get(notice.party_id)
        rows = []
        for d in deliveries:
            if d.party_id != notice.party_id:
                continue
            ep = endpoints.get(d.endpoint_id)
            rows.append(
                {
                    "endpoint": endpoint_label(hub.secret, viewer, party, ep.id, ep.name)
                    if party and ep
                    else endpoint_ref(hub.secret, viewer.id, d.endpoint_id),
                    "state": d.state,
                    "queued_at": iso_z(d.queued_at),
                    "delivered_at": iso_z_or_none(d.delivered_at),
                    "read_at": iso_z_or_none(d.read_at),
                    "acknowledged_at": iso_z_or_none(d.acknowledged_at),
                }
            )
        furthest = max((r["state"] for r in rows), key=DELIVERY_STATES.index, default="queued")
        recipients.append(
            {
                "party_id": notice.party_id,
                "name": party.name if party else None,
                "state": "acknowledged" if notice.acknowledged_at else furthest,
                "deadline_at": iso_z(notice.deadline_at),
                "escalation": notice.step.label,
                "acknowledged_at": iso_z_or_none(notice.acknowledged_at),
                "note": notice.note,
                "endpoints": rows,
            }
        )
    view["recipients"] = recipients
    return view


def visible(uow: UnitOfWork, caller: Party, message_id: str) -> Message:
    message = uow.message(message_id)
    if message is None or (caller.id != message.sender_id and caller.id not in message.recipients):
        raise NotFound(f"No message {message_id!r} sent by or to you.", {"message_id": message_id})
    return message


def view(hub: Hub, uow: UnitOfWork, caller: Party, message: Message) -> dict[str, Any]:
    if caller.id == message.sender_id:
        return sender_view(hub, uow, message, caller)
    return recipient_view(hub, message, caller, uow.notice(message.id, caller.id))


def _received(tx: Tx, caller: Party, message_id: str) -> Message:
    message = visible(tx.uow, caller, message_id)
    if caller.id not in message.recipients:
        raise InvalidInput("Only a recipient reads or acknowledges a message; you sent this one.")
    return message


def mark_read(hub: Hub, tx: Tx, caller: Party, endpoint_id: str | None, message_id: str) -> dict[str, Any]:
    message = _received(tx, caller, message_id)
    if endpoint_id is not None:
        if tx.uow.set_delivery_time(message.id, endpoint_id, "read_at", tx.now):
            log_delivered(hub, tx, message.id, endpoint_id, caller.id, None)
        data = {"notice_id": message.id, "party_id": caller.id, "endpoint_ref": record_ref(hub.secret, endpoint_id)}
        log_about(tx.uow, tx.now, "notice.read", message.id, {**data, "at": iso_z(tx.now)})
    return view(hub, tx.uow, caller, message)


def acknowledge(
    hub: Hub,
    tx: Tx,
    caller: Party,
    endpoint_id: str | None,
    message_id: str,
    note: str | None,
    signed: SignedAck | None = None,
) -> dict[str, Any]:
    """Received and understood — never approval. Acknowledging twice changes nothing. A signature (checked before
    anything is written) is kept in the record's ``notice.acknowledged`` entry."""
    message = _received(tx, caller, message_id)
    proof = None
    if signed is not None:
        key_id = check_signed_ack(tx, caller, message.id, 1, MESSAGE_NOTICES, signed)
        proof = {"signature": signed.signature.lower(), "key_id": key_id, "signed_at": iso_z(signed.signed_at)}
    acknowledged = acknowledge_notice(hub, tx, message.id, caller.id, endpoint_id, note, proof)
    if acknowledged is not None:
        data = {
            "message_id": message.id,
            "party_id": caller.id,
            "name": caller.name,
            "at": iso_z(tx.now),
            "note": note,
        }
        hub.deliver(tx, message.sender_id, ACKNOWLEDGED, data)
    return view(hub, tx.uow, caller, message)
