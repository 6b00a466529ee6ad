"""Notices: what a recipient party must acknowledge, with a deadline by priority, and its per-endpoint deliveries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from deconfliction.config import Settings
from deconfliction.core.disclosure import iso_z
from deconfliction.core.line import Notice, NoticeKind, Priority, priority_of_operations
from deconfliction.core.model import Conflict, ObjectType
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.party_keys import CONFLICT_NOTICES, MESSAGE_NOTICES
from deconfliction.service.record import log_about, record_ref
from deconfliction.store.port import UnitOfWork

# The record entries that carry a notice of each kind (its latest is the one an acknowledgement answers).
LOGGED_AS = {NoticeKind.CONFLICT: CONFLICT_NOTICES, NoticeKind.MESSAGE: MESSAGE_NOTICES}


def ack_window_s(settings: Settings, priority: Priority) -> float:
    return {
        Priority.FLASH: settings.ack_flash_s,
        Priority.IMMEDIATE: settings.ack_immediate_s,
        Priority.PRIORITY: settings.ack_priority_s,
        Priority.ROUTINE: settings.ack_routine_s,
    }[priority]


def new_notice(
    tx: Tx, kind: NoticeKind, notice_id: str, party_id: str, sender_id: str | None, priority: Priority, window_s: float
) -> Notice:
    return Notice(
        id=notice_id,
        kind=kind,
        party_id=party_id,
        sender_id=sender_id,
        priority=priority,
        window_s=window_s,
        deadline_at=tx.now + timedelta(seconds=window_s),
        created_at=tx.now,
    )


def conflict_priority(conflict: Conflict, priorities: Mapping[str, int | None]) -> Priority:
    """From the priorities of the conflict's operations, by id (``priorities`` holds every one of them)."""
    sides = (conflict.a, conflict.b)
    return priority_of_operations([priorities[s.id] for s in sides if s.type is ObjectType.OPERATION])


def owed_for_conflict(hub: Hub, tx: Tx, conflict: Conflict, priorities: Mapping[str, int | None]) -> list[Notice]:
    """A conflict opened, or its overlap moved: both parties owe an acknowledgement, with a deadline by the
    operations' priority (``priorities``: as the index handed them over with the candidates). The caller stores
    them (``insert_notices`` for new conflicts, ``update_notice`` else)."""
    priority = conflict_priority(conflict, priorities)
    window = ack_window_s(hub.settings, priority)
    return [
        new_notice(tx, NoticeKind.CONFLICT, conflict.id, party_id, None, priority, window)
        for party_id in conflict.party_ids
    ]


def log_delivered(hub: Hub, tx: Tx, notice_id: str, endpoint_id: str, party_id: str, seq: int | None) -> None:
    """The record's entry for one notice reaching one endpoint, shown to whoever may read the entry the notice is
    about. ``seq``: the event that carried it (None when a read or an acknowledgement is the first sign of it)."""
    data = {
        "notice_id": notice_id,
        "party_id": party_id,
        "endpoint_ref": record_ref(hub.secret, endpoint_id),
        "seq": seq,
        "delivered_at": iso_z(tx.now),
    }
    log_about(tx.uow, tx.now, "notice.delivered", notice_id, data, also=[party_id])


def acknowledge_notice(
    hub: Hub,
    tx: Tx,
    notice_id: str,
    party_id: str,
    endpoint_id: str | None,
    note: str | None,
    signed: dict[str, Any] | None = None,
) -> Notice | None:
    """Stamp the party's acknowledgement (and the acknowledging endpoint's delivery); None when nothing is owed."""
    notice = tx.uow.notice(notice_id, party_id)
    if endpoint_id is not None and tx.uow.set_delivery_time(notice_id, endpoint_id, "acknowledged_at", tx.now):
        log_delivered(hub, tx, notice_id, endpoint_id, party_id, None)
    owed = notice is not None and notice.acknowledged_at is None
    if owed or endpoint_id is not None:
        data = {
            "notice_id": notice_id,
            "party_id": party_id,
            "endpoint_ref": record_ref(hub.secret, endpoint_id) if endpoint_id else None,
            "at": iso_z(tx.now),
            "note": note,
            "first": owed,
            **(signed or {}),
        }
        log_about(tx.uow, tx.now, "notice.acknowledged", notice_id, data, also=[party_id])
    if notice is None or not owed:
        return None
    acknowledged = replace(notice, acknowledged_at=tx.now, acknowledged_by=endpoint_id, note=note)
    tx.uow.update_notice(acknowledged)
    return acknowledged


def escalation_payload(notice: Notice, escalated: Notice) -> dict[str, object]:
    return {
        "notice_id": notice.id,
        "kind": str(notice.kind),
        "priority": str(notice.priority),
        "recipient_id": notice.party_id,
        "step": escalated.step.label,
        "missed_deadline_at": iso_z(notice.deadline_at),
        "next_deadline_at": iso_z(escalated.deadline_at),
    }


def inbox(hub: Hub, uow: UnitOfWork, party_id: str, limit: int) -> dict[str, Any]:
    """What the party still owes an acknowledgement, earliest deadline first, each with the signed receipt of the
    logged notice it answers (what a signed acknowledgement covers); and the party's newest event id, read in the
    same transaction, so that a client following the events after it misses nothing."""
    pending = uow.pending_notices(party_id, limit)
    logged = [uow.audit_latest(n.id, LOGGED_AS[n.kind]) for n in pending]
    receipts = iter(hub.audit.receipts([entry for entry in logged if entry is not None]))
    views = [
        {
            "id": n.id,
            "kind": str(n.kind),
            "priority": str(n.priority),
            "deadline_at": iso_z(n.deadline_at),
            "escalation": n.step.label,
            "created_at": iso_z(n.created_at),
            "receipt": next(receipts) if entry is not None else None,
        }
        for n, entry in zip(pending, logged, strict=True)
    ]
    return {"notices": views, "last_event_id": uow.last_event_seqs(party_id).get(party_id, 0)}
