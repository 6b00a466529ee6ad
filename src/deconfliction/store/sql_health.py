"""The SQLAlchemy adapter's part for line health: line tests, endpoints' line states and webhook push state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update
from sqlalchemy.engine import Row

from deconfliction.core.health import LineState, LineTest, WebhookState
from deconfliction.store import codec
from deconfliction.store import tables as t


def _line_test(row: Row[Any]) -> LineTest:
    return LineTest(
        id=row.id,
        endpoint_id=row.endpoint_id,
        party_id=row.party_id,
        sent_at=codec.parse_ts(row.sent_at),
        answer_by=codec.parse_ts(row.answer_by),
        requested_by=row.requested_by,
        answered_at=codec.opt_parse_ts(row.answered_at),
    )


class HealthQueries:
    """Mixed into ``SqlUnitOfWork``."""

    conn: Connection

    # -- webhook push ---

    def webhook_secret(self, endpoint_id: str) -> str | None:
        e = t.endpoints.c
        return self.conn.execute(select(e.webhook_secret).where(e.id == endpoint_id)).scalar_one_or_none()

    def webhook_state(self, endpoint_id: str) -> WebhookState:
        row = self.conn.execute(select(t.webhook_state).where(t.webhook_state.c.endpoint_id == endpoint_id)).first()
        if row is None:
            return WebhookState(endpoint_id)
        return WebhookState(
            endpoint_id=endpoint_id,
            pushed_seq=row.pushed_seq,
            attempts=row.attempts,
            next_attempt_at=codec.opt_parse_ts(row.next_attempt_at),
            last_attempt_at=codec.opt_parse_ts(row.last_attempt_at),
            last_status=row.last_status,
            last_error=row.last_error,
            last_success_at=codec.opt_parse_ts(row.last_success_at),
            dead_since=codec.opt_parse_ts(row.dead_since),
        )

    def save_webhook_state(self, s: WebhookState) -> None:
        values = {
            "pushed_seq": s.pushed_seq,
            "attempts": s.attempts,
            "next_attempt_at": codec.opt_ts(s.next_attempt_at),
            "last_attempt_at": codec.opt_ts(s.last_attempt_at),
            "last_status": s.last_status,
            "last_error": s.last_error,
            "last_success_at": codec.opt_ts(s.last_success_at),
            "dead_since": codec.opt_ts(s.dead_since),
        }
        w = t.webhook_state
        done = self.conn.execute(update(w).where(w.c.endpoint_id == s.endpoint_id).values(**values))
        if done.rowcount == 0:
            self.conn.execute(insert(w).values(endpoint_id=s.endpoint_id, **values))

    # -- line tests ---

    def insert_line_test(self, lt: LineTest) -> None:
        self.conn.execute(
            insert(t.line_tests).values(
                id=lt.id,
                endpoint_id=lt.endpoint_id,
                party_id=lt.party_id,
                requested_by=lt.requested_by,
                sent_at=codec.ts(lt.sent_at),
                answer_by=codec.ts(lt.answer_by),
                answer_by_s=lt.answer_by.timestamp(),
                answered_at=codec.opt_ts(lt.answered_at),
                decided=lt.answered_at is not None,
            )
        )

    def line_test(self, test_id: str) -> LineTest | None:
        row = self.conn.execute(select(t.line_tests).where(t.line_tests.c.id == test_id)).first()
        return _line_test(row) if row else None

    def answer_line_test(self, test_id: str, at: datetime) -> None:
        c = t.line_tests.c
        self.conn.execute(update(t.line_tests).where(c.id == test_id).values(answered_at=codec.ts(at), decided=True))

    def recent_line_tests(self, endpoint_id: str, limit: int) -> list[LineTest]:
        """Newest first."""
        c = t.line_tests.c
        query = select(t.line_tests).where(c.endpoint_id == endpoint_id).order_by(c.sent_at.desc(), c.id.desc())
        return [_line_test(r) for r in self.conn.execute(query.limit(limit))]

    def last_scheduled_line_tests(self) -> dict[str, datetime]:
        """When each endpoint was last sent a scheduled (not requested) line test."""
        c = t.line_tests.c
        query = select(c.endpoint_id, func.max(c.sent_at)).where(c.requested_by.is_(None)).group_by(c.endpoint_id)
        return {endpoint_id: codec.parse_ts(at) for endpoint_id, at in self.conn.execute(query)}

    def expired_line_tests(self, now: datetime, limit: int) -> list[LineTest]:
        """Unanswered tests whose window closed and that were not yet counted as missed, oldest first."""
        c = t.line_tests.c
        query = (
            select(t.line_tests)
            .where(c.decided.is_(False), c.answer_by_s <= now.timestamp())
            .order_by(c.answer_by_s, c.id)
            .limit(limit)
        )
        return [_line_test(r) for r in self.conn.execute(query)]

    def mark_line_tests_missed(self, test_ids: list[str]) -> None:
        if test_ids:
            c = t.line_tests.c
            self.conn.execute(update(t.line_tests).where(c.id.in_(test_ids)).values(decided=True))

    def prune_line_tests(self, before: datetime) -> int:
        """Forget decided tests whose window closed before ``before`` (the record keeps their history)."""
        c = t.line_tests.c
        done = self.conn.execute(delete(t.line_tests).where(c.decided.is_(True), c.answer_by_s < before.timestamp()))
        return int(done.rowcount)

    def endpoint_line_state(self, endpoint_id: str) -> tuple[LineState | None, datetime | None]:
        e = t.endpoints.c
        row = self.conn.execute(select(e.line_state, e.line_state_since).where(e.id == endpoint_id)).one()
        return (LineState(row.line_state) if row.line_state else None), codec.opt_parse_ts(row.line_state_since)

    def set_endpoint_line_state(self, endpoint_id: str, state: LineState, at: datetime) -> None:
        e = t.endpoints.c
        self.conn.execute(
            update(t.endpoints).where(e.id == endpoint_id).values(line_state=str(state), line_state_since=codec.ts(at))
        )

    def touch_endpoint(self, endpoint_id: str, at: datetime) -> None:
        """The endpoint was heard from."""
        e = t.endpoints.c
        self.conn.execute(update(t.endpoints).where(e.id == endpoint_id).values(last_seen_at=codec.ts(at)))
