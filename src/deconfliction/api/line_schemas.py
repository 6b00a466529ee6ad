"""Wire schemas of the line: endpoints, channels, messages, notices (``…In`` in, ``…Public`` out)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from deconfliction.api.schemas import SignedAckIn
from deconfliction.core.line import EVENT_FAMILIES, Priority
from deconfliction.service.endpoints import EndpointDraft
from deconfliction.service.messages import MessageDraft

Family = Literal["conflict", "message", "notice", "line", "channel", "alert", "site"]
assert set(Family.__args__) == EVENT_FAMILIES  # type: ignore[attr-defined]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointIn(_In):
    name: str = Field(min_length=1, max_length=100, description="Your name for the unit, e.g. '2nd Squadron'.")
    duty: bool = Field(False, description="Told when a notice to your party misses its acknowledgement deadline.")
    subscriptions: list[Family] | None = Field(
        None, min_length=1, description="Event families it receives; omitted: everything."
    )
    webhook_url: str | None = Field(
        None,
        max_length=2000,
        description="Where its events are pushed: signed POSTs, in order, retried with backoff until a 2xx "
        "(see the README's 'Webhooks').",
    )

    def to_draft(self) -> EndpointDraft:
        subs = frozenset(self.subscriptions) if self.subscriptions is not None else None
        return EndpointDraft(self.name, self.duty, subs, self.webhook_url)


class WebhookStatus(BaseModel):
    state: Literal["ok", "retrying", "dead_letter"] = Field(
        description="dead_letter: the retries ran out; undelivered events are held in order, probed now and then."
    )
    pushed_seq: int = Field(description="The last event of your party's log the receiver acknowledged (or skipped).")
    backlog: int = Field(description="Events of your party's log after pushed_seq (some may not be subscribed to).")
    attempts: int = Field(description="Failed POSTs in a row of the next event.")
    next_attempt_at: str | None
    last_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    last_success_at: str | None
    dead_since: str | None


class LineTestAnswer(BaseModel):
    test_id: str
    answered_at: str
    rtt_ms: float | None
    state: Literal["up", "degraded", "down"]


class EndpointLine(BaseModel):
    endpoint: str = Field(description="Its name for you and your coalition partners; an opaque unit_… ref otherwise.")
    state: Literal["up", "degraded", "down"]
    reason: str
    since: str | None = Field(description="When it last changed state.")
    last_seen_at: str | None
    rtt_ms: float | None = Field(description="Round-trip time of its last answered line test.")
    last_test_at: str | None
    last_answer_at: str | None


class PartyRef(BaseModel):
    id: str
    name: str


class PartyLine(BaseModel):
    party: PartyRef
    state: Literal["up", "degraded", "down"] = Field(description="up: every endpoint up; down: all down (or none).")
    checked_at: str
    endpoints: list[EndpointLine]


class LineTestSent(BaseModel):
    test_id: str
    endpoint: str


class LineTestRequested(BaseModel):
    party: PartyRef
    sent_at: str
    answer_by: str
    tests: list[LineTestSent]


class EndpointPublic(BaseModel):
    id: str
    name: str
    duty: bool
    subscriptions: list[str] | None
    webhook_url: str | None
    created_at: str
    delivered_seq: int = Field(description="The last event of your party's log this endpoint was sent.")
    last_seen_at: str | None
    line_state: Literal["up", "degraded", "down"] | None = Field(description="From its line tests; null: untested.")
    line_state_since: str | None
    webhook: WebhookStatus | None = Field(description="Its push state, when it has a webhook URL.")
    record_ref: str = Field(description="How the record names this unit in deliveries and acknowledgements.")


class EndpointCreated(EndpointPublic):
    token: str = Field(description="Shown once; the hub keeps only its hash.")
    webhook_secret: str | None = Field(description="Shown once: the HMAC key of the webhook signatures.")


class ChannelIn(_In):
    name: str = Field(min_length=1, max_length=100)
    members: list[str] = Field(min_length=1, max_length=100, description="The other parties' ids.")


class ChannelMember(BaseModel):
    id: str
    name: str | None
    accepted: bool


class ChannelPublic(BaseModel):
    id: str
    name: str
    state: Literal["proposed", "active"]
    members: list[ChannelMember]
    created_by: str | None
    created_at: str


class MessageIn(_In):
    to: list[str] | None = Field(None, max_length=100, description="Recipient party ids (or use 'channel').")
    channel: str | None = Field(None, max_length=100, description="A channel id: every other member receives it.")
    priority: Priority = Priority.ROUTINE
    template: str | None = Field(None, max_length=100, description="A template id (GET /v1/templates).")
    fields: dict[str, Any] | None = Field(None, description="The template's fields.")
    body: str | None = Field(None, max_length=10_000, description="Free text (or in addition to a template).")
    ack_within_s: float | None = Field(None, description="Acknowledgement deadline; default by priority.")
    refs: list[str] = Field(default_factory=list, max_length=50, description="Ids of objects it is about.")

    def to_draft(self) -> MessageDraft:
        return MessageDraft(
            priority=self.priority,
            to=tuple(self.to) if self.to is not None else None,
            channel=self.channel,
            template=self.template,
            fields=self.fields,
            body=self.body,
            ack_within_s=self.ack_within_s,
            refs=tuple(r[:200] for r in self.refs),
        )


MessageAcknowledgeIn = SignedAckIn


class Rendered(BaseModel):
    lang: str
    title: str
    body: str


class EndpointDelivery(BaseModel):
    endpoint: str = Field(description="Its name for coalition partners, an opaque reference for anyone else.")
    state: Literal["queued", "delivered", "read", "acknowledged"]
    queued_at: str
    delivered_at: str | None
    read_at: str | None
    acknowledged_at: str | None


class RecipientStatus(BaseModel):
    party_id: str
    name: str | None
    state: Literal["queued", "delivered", "read", "acknowledged"]
    deadline_at: str
    escalation: Literal["none", "resent", "duty", "monitors"]
    acknowledged_at: str | None
    note: str | None
    endpoints: list[EndpointDelivery]


class MessagePublic(BaseModel):
    id: str
    from_: dict[str, Any] = Field(alias="from")
    to: list[str]
    channel: str | None
    priority: Priority
    template: str | None
    fields: dict[str, Any] | None
    body: str | None
    refs: list[str]
    created_at: str
    ack_within_s: float
    rendered: Rendered | None = None
    deadline_at: str | None = Field(None, description="Recipients: your deadline.")
    acknowledged_at: str | None = Field(None, description="Recipients: when your party acknowledged it.")
    escalation: str | None = Field(None, description="Recipients: how far your missed deadlines escalated it.")
    recipients: list[RecipientStatus] | None = Field(None, description="The sender: how far it got, per party.")


class NoticePublic(BaseModel):
    id: str
    kind: Literal["message", "conflict"]
    priority: Priority
    deadline_at: str
    escalation: str
    created_at: str
    receipt: dict[str, Any] | None = Field(
        None, description="The hub's signed receipt of the logged notice (index, leaf_hash, at, at_ms, signature)."
    )


class NoticeListPublic(BaseModel):
    notices: list[NoticePublic]
    last_event_id: int = Field(description="Your log's newest event when the inbox was read: follow events after it.")
