"""The line: endpoints (a party's units), messages, notices with acknowledgement deadlines, and escalation.

A *notice* is anything a recipient party must acknowledge: a message, or a conflict from the strategic check. Each
recipient party has its own deadline; each of its endpoints has its own delivery record
(``queued → delivered → read → acknowledged``). A missed deadline escalates one step at a time, each step giving
the recipient a fresh deadline of the same length:

1. ``resent``: the notice is sent again to every endpoint of the recipient;
2. ``duty``: the recipient's duty endpoints are told it is overdue;
3. ``monitors``: the hub's monitors are told.

Then the hub stops escalating; the notice stays unacknowledged, and that is what the record shows.
An acknowledgement means "received and understood", never approval.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum


class Priority(StrEnum):
    ROUTINE = "routine"
    PRIORITY = "priority"
    IMMEDIATE = "immediate"
    FLASH = "flash"


class Step(IntEnum):
    NONE = 0
    RESENT = 1
    DUTY = 2
    MONITORS = 3

    @property
    def label(self) -> str:
        return self.name.lower()


LAST_STEP = Step.MONITORS


class NoticeKind(StrEnum):
    MESSAGE = "message"
    CONFLICT = "conflict"


# What an endpoint may subscribe to: the first part of an event type ("conflict.opened" → "conflict").
EVENT_FAMILIES = frozenset({"conflict", "message", "notice", "line", "channel", "alert", "site"})
LINE_TEST = "line.test"  # sent to every endpoint, whatever it subscribes to: it must answer


def priority_of_operations(priorities: list[int | None]) -> Priority:
    """A conflict's priority from its operations' priorities (integers, higher is more urgent): the highest wins.
    0 or none → routine, 1 → priority, 2 → immediate, 3 and above → flash."""
    top = max((p for p in priorities if p is not None), default=0)
    if top >= 3:
        return Priority.FLASH
    return (Priority.ROUTINE, Priority.PRIORITY, Priority.IMMEDIATE)[max(top, 0)]


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One unit of a party (operations centre, squadron, convoy leader) with its own token."""

    id: str
    party_id: str
    name: str
    created_at: datetime
    duty: bool = False
    subscriptions: frozenset[str] | None = None  # event families; None: everything
    webhook_url: str | None = None
    disabled: bool = False

    def wants(self, event_type: str) -> bool:
        if self.subscriptions is None or event_type == LINE_TEST:
            return True
        return event_type.split(".", 1)[0] in self.subscriptions


@dataclass(frozen=True, slots=True)
class Channel:
    """A standing line between two or more parties. Proposed by one, active once every member has accepted."""

    id: str
    name: str
    members: frozenset[str]
    accepted: frozenset[str]
    created_by: str | None  # None: made by the hub's administrator
    created_at: datetime

    @property
    def active(self) -> bool:
        return self.accepted >= self.members


@dataclass(frozen=True, slots=True)
class Message:
    id: str
    sender_id: str
    recipients: tuple[str, ...]
    priority: Priority
    created_at: datetime
    ack_within_s: float
    channel_id: str | None = None
    template: str | None = None
    fields: dict[str, object] | None = None
    body: str | None = None
    refs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Notice:
    """What one recipient party owes on one notice: its deadline, how far it has been escalated, its ack."""

    id: str  # the message or conflict id
    kind: NoticeKind
    party_id: str
    sender_id: str | None  # None: the hub (conflicts)
    priority: Priority
    window_s: float
    deadline_at: datetime
    created_at: datetime
    step: Step = Step.NONE
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None  # endpoint id, or None when acknowledged with the party's token
    note: str | None = None
    closed_at: datetime | None = None  # no acknowledgement owed any more (its conflict was resolved)

    @property
    def owed(self) -> bool:
        return self.acknowledged_at is None and self.closed_at is None

    def overdue(self, now: datetime) -> bool:
        return self.owed and self.step < LAST_STEP and now >= self.deadline_at

    def escalated(self) -> Notice:
        """The next step, with a fresh deadline counted from the missed one (so a hub that was down catches up
        step by step, in order, rather than skipping to the end)."""
        return replace(self, step=Step(self.step + 1), deadline_at=self.deadline_at + timedelta(seconds=self.window_s))


DELIVERY_STATES = ("queued", "delivered", "read", "acknowledged")  # each implies the ones before it


@dataclass(frozen=True, slots=True)
class Delivery:
    """How far a notice got at one endpoint."""

    notice_id: str
    endpoint_id: str
    party_id: str
    seq: int  # the event in the party's log that carried it
    queued_at: datetime
    delivered_at: datetime | None = None
    read_at: datetime | None = None
    acknowledged_at: datetime | None = None

    @property
    def state(self) -> str:
        if self.acknowledged_at is not None:
            return "acknowledged"
        if self.read_at is not None:
            return "read"
        if self.delivered_at is not None:
            return "delivered"
        return "queued"
