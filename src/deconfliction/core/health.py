"""Whether the line to each endpoint works: line tests (the hub asks, the unit answers) and webhook push state.

**Line tests.** The hub sends every endpoint a line test on a schedule (and when a party asks for one); the unit
answers it within a window. A test is *decided* once answered or once its window closed unanswered. An endpoint's
state comes from its last ``n`` decided tests:

- ``up``: it answered all of them;
- ``degraded``: it missed some, or fewer than ``n`` were decided and it answered none (not known good yet);
- ``down``: it answered none of the last ``n``.

**Webhook push.** An endpoint with a webhook URL is pushed its events in order, one at a time; the cursor only
moves past an event once the receiver answered 2xx. Failures back off exponentially (``core/backoff.py``); after
the policy's last attempt the endpoint's push is in the *dead-letter* state: its undelivered events are held, in
order, shown to the party, probed at a slow pace and sent as soon as the receiver answers again (or when the party
asks for a retry).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class LineState(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class LineTest:
    id: str
    endpoint_id: str
    party_id: str
    sent_at: datetime
    answer_by: datetime
    requested_by: str | None = None  # the party that asked for it; None: the hub's schedule
    answered_at: datetime | None = None

    @property
    def rtt_ms(self) -> float | None:
        if self.answered_at is None:
            return None
        return (self.answered_at - self.sent_at).total_seconds() * 1000.0

    def decided(self, now: datetime) -> bool:
        return self.answered_at is not None or now >= self.answer_by


def line_state(recent: list[LineTest], now: datetime, n: int) -> tuple[LineState, str]:
    """The state of an endpoint from its tests, newest first, and why, in words."""
    decided = [t for t in recent if t.decided(now)][:n]
    answered = sum(1 for t in decided if t.answered_at is not None)
    if not decided:
        return LineState.DEGRADED, "no line test answered yet"
    if answered == len(decided):
        return LineState.UP, f"answered the last {answered} line test{'s' if answered > 1 else ''}"
    if answered == 0 and len(decided) >= n:
        return LineState.DOWN, f"answered none of the last {n} line tests"
    if answered == 0:
        return LineState.DEGRADED, f"answered none of its {len(decided)} line test(s) so far"
    return LineState.DEGRADED, f"missed {len(decided) - answered} of the last {len(decided)} line tests"


@dataclass(frozen=True, slots=True)
class WebhookState:
    """Where an endpoint's webhook push stands. ``pushed_seq``: the last event of its party's log it was sent (2xx)
    or skipped (not subscribed)."""

    endpoint_id: str
    pushed_seq: int = 0
    attempts: int = 0  # failed POSTs in a row, all of the event after ``pushed_seq``
    next_attempt_at: datetime | None = None
    last_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None
    last_success_at: datetime | None = None
    dead_since: datetime | None = None

    @property
    def state(self) -> str:
        if self.dead_since is not None:
            return "dead_letter"
        return "retrying" if self.attempts else "ok"

    def due(self, now: datetime) -> bool:
        return self.next_attempt_at is None or now >= self.next_attempt_at

    def skipped(self, seq: int) -> WebhookState:
        """The event at ``seq`` is not one the endpoint subscribes to."""
        return replace(self, pushed_seq=seq)

    def succeeded(self, seq: int, status: int | None, now: datetime) -> WebhookState:
        return replace(
            self,
            pushed_seq=seq,
            attempts=0,
            next_attempt_at=None,
            last_attempt_at=now,
            last_status=status,
            last_error=None,
            last_success_at=now,
            dead_since=None,
        )

    def failed(
        self, status: int | None, error: str | None, now: datetime, retry_at: datetime | None, probe_s: float
    ) -> WebhookState:
        """One more failed POST; ``retry_at`` None means the retry policy gave up: dead-letter, probed every
        ``probe_s`` seconds from now on."""
        return replace(
            self,
            attempts=self.attempts + 1,
            next_attempt_at=retry_at if retry_at is not None else now + timedelta(seconds=probe_s),
            last_attempt_at=now,
            last_status=status,
            last_error=error,
            dead_since=self.dead_since or (now if retry_at is None else None),
        )
