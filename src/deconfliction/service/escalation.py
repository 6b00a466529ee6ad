"""Missed acknowledgement deadlines: each one escalates a notice one step (see ``core/line.py``), as events.

Deadlines live in the store, so a hub that was down catches up at start-up: every deadline that passed meanwhile
fires, earliest first, one step per missed deadline.
"""

from __future__ import annotations

from typing import Any

from deconfliction.core.line import Notice, NoticeKind, Step
from deconfliction.service import messages
from deconfliction.service.hub import Hub, Tx
from deconfliction.service.notices import escalation_payload
from deconfliction.service.record import log_about

OVERDUE = "notice.overdue"  # to the recipient's duty endpoints, then to the monitors
ESCALATED = "notice.escalated"  # to the sender, at every step
CONFLICT_REMINDER = "conflict.reminder"


def _resend(hub: Hub, tx: Tx, notice: Notice, escalated: Notice) -> None:
    recipient = hub.party(tx.uow, notice.party_id)
    data: dict[str, Any] | None
    if notice.kind is NoticeKind.MESSAGE:
        message = tx.uow.message(notice.id)
        data = messages.recipient_view(hub, message, recipient, escalated) if message else None
        type_ = messages.RESENT
    else:
        conflict = tx.uow.conflict(notice.id)
        data = hub.view(conflict, recipient) if conflict else None
        type_ = CONFLICT_REMINDER
    if data is not None:
        hub.deliver(tx, notice.party_id, type_, data)  # its deliveries were recorded when it was first sent


def escalate(hub: Hub, tx: Tx, limit: int = 1000) -> int:
    """Escalate every overdue notice by one step per missed deadline; returns the number of steps taken."""
    steps = 0
    while steps < limit:
        overdue = tx.uow.overdue_notices(tx.now, limit - steps)
        if not overdue:
            break
        for notice in overdue:
            escalated = notice.escalated()
            tx.uow.update_notice(escalated)
            payload = escalation_payload(notice, escalated)
            monitors = [m.id for m in hub.monitors()] if escalated.step is Step.MONITORS else []
            log_about(tx.uow, tx.now, "notice.escalated", notice.id, dict(payload), also=monitors)
            if escalated.step is Step.RESENT:
                _resend(hub, tx, notice, escalated)
            elif escalated.step is Step.DUTY:
                duty = [ep for ep in hub.endpoints.get(notice.party_id, ()) if ep.duty]
                for ep in duty:
                    hub.deliver(tx, notice.party_id, OVERDUE, payload, endpoint_id=ep.id)
                if not duty:  # no duty endpoint: the whole party is told
                    hub.deliver(tx, notice.party_id, OVERDUE, payload)
            else:
                recipient = hub.party(tx.uow, notice.party_id)
                for monitor in hub.monitors():
                    hub.deliver(tx, monitor.id, OVERDUE, {**payload, "recipient_name": recipient.name})
            if notice.sender_id is not None:
                hub.deliver(tx, notice.sender_id, ESCALATED, payload)
            steps += 1
    return steps
