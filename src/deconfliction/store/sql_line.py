"""The SQLAlchemy adapter's part for the line: endpoints, channels, messages, notices and deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, and_, bindparam, case, delete, func, insert, or_, select, update
from sqlalchemy.engine import Row

from deconfliction.core.line import Channel, Delivery, Endpoint, Message, Notice, NoticeKind, Priority, Step
from deconfliction.store import codec
from deconfliction.store import tables as t
from deconfliction.store.raw import FastInsert

_ENDPOINT_BY_TOKEN = select(t.endpoints).where(t.endpoints.c.token_hash == bindparam("hash"))
_INSERT_DELIVERY = FastInsert(t.deliveries, ("notice_id", "endpoint_id", "party_id", "seq", "queued_at"))
_NOTICE_COLUMNS = (
    "id", "party_id", "kind", "sender_id", "priority", "window_s", "deadline_at", "deadline_s", "step",
    "acknowledged_at", "acknowledged_by", "note", "closed_at", "created_at",
)  # fmt: skip
_INSERT_NOTICE = FastInsert(t.notices, _NOTICE_COLUMNS)
_MARK_DELIVERED = (
    update(t.deliveries)
    .where(
        t.deliveries.c.endpoint_id == bindparam("endpoint"),
        t.deliveries.c.seq > bindparam("after"),
        t.deliveries.c.seq <= bindparam("upto"),
        t.deliveries.c.delivered_at.is_(None),
    )
    .values(delivered_at=bindparam("at"))
    .returning(t.deliveries.c.notice_id, t.deliveries.c.seq)
)
_EVENTS_FOR_ENDPOINT = (
    select(t.events.c.seq, t.events.c.type, t.events.c.data)
    .where(
        t.events.c.party_id == bindparam("party"),
        t.events.c.seq > bindparam("seq"),
        or_(t.events.c.endpoint_id.is_(None), t.events.c.endpoint_id == bindparam("endpoint")),
    )
    .order_by(t.events.c.seq)
    .limit(bindparam("limit"))
)


def _endpoint(row: Row[Any]) -> Endpoint:
    subs = orjson.loads(row.subscriptions) if row.subscriptions is not None else None
    return Endpoint(
        id=row.id,
        party_id=row.party_id,
        name=row.name,
        created_at=codec.parse_ts(row.created_at),
        duty=row.duty,
        subscriptions=frozenset(subs) if subs is not None else None,
        webhook_url=row.webhook_url,
        disabled=row.disabled,
    )


def _message(row: Row[Any]) -> Message:
    return Message(
        id=row.id,
        sender_id=row.sender_id,
        recipients=tuple(orjson.loads(row.recipients)),
        priority=Priority(row.priority),
        created_at=codec.parse_ts(row.created_at),
        ack_within_s=row.ack_within_s,
        channel_id=row.channel_id,
        template=row.template,
        fields=orjson.loads(row.fields) if row.fields is not None else None,
        body=row.body,
        refs=tuple(orjson.loads(row.refs)),
    )


def _notice(row: Row[Any]) -> Notice:
    return Notice(
        id=row.id,
        kind=NoticeKind(row.kind),
        party_id=row.party_id,
        sender_id=row.sender_id,
        priority=Priority(row.priority),
        window_s=row.window_s,
        deadline_at=codec.parse_ts(row.deadline_at),
        created_at=codec.parse_ts(row.created_at),
        step=Step(row.step),
        acknowledged_at=codec.opt_parse_ts(row.acknowledged_at),
        acknowledged_by=row.acknowledged_by,
        note=row.note,
        closed_at=codec.opt_parse_ts(row.closed_at),
    )


def _notice_values(n: Notice) -> dict[str, Any]:
    return {
        "id": n.id,
        "party_id": n.party_id,
        "kind": str(n.kind),
        "sender_id": n.sender_id,
        "priority": str(n.priority),
        "window_s": n.window_s,
        "deadline_at": codec.ts(n.deadline_at),
        "deadline_s": n.deadline_at.timestamp(),
        "step": int(n.step),
        "acknowledged_at": codec.opt_ts(n.acknowledged_at),
        "acknowledged_by": n.acknowledged_by,
        "note": n.note,
        "closed_at": codec.opt_ts(n.closed_at),
        "created_at": codec.ts(n.created_at),
    }


def _delivery(row: Row[Any]) -> Delivery:
    return Delivery(
        notice_id=row.notice_id,
        endpoint_id=row.endpoint_id,
        party_id=row.party_id,
        seq=row.seq,
        queued_at=codec.parse_ts(row.queued_at),
        delivered_at=codec.opt_parse_ts(row.delivered_at),
        read_at=codec.opt_parse_ts(row.read_at),
        acknowledged_at=codec.opt_parse_ts(row.acknowledged_at),
    )


class LineQueries:
    """Mixed into ``SqlUnitOfWork``."""

    conn: Connection

    # -- endpoints ---

    def insert_endpoint(self, ep: Endpoint, token_hash: str, webhook_secret: str | None) -> None:
        subs = orjson.dumps(sorted(ep.subscriptions)).decode() if ep.subscriptions is not None else None
        self.conn.execute(
            insert(t.endpoints).values(
                id=ep.id,
                party_id=ep.party_id,
                name=ep.name,
                token_hash=token_hash,
                duty=ep.duty,
                subscriptions=subs,
                webhook_url=ep.webhook_url,
                webhook_secret=webhook_secret,
                disabled=ep.disabled,
                delivered_seq=0,
                created_at=codec.ts(ep.created_at),
            )
        )

    def endpoint_by_token_hash(self, token_hash: str) -> Endpoint | None:
        row = self.conn.execute(_ENDPOINT_BY_TOKEN, {"hash": token_hash}).first()
        return _endpoint(row) if row and not row.disabled else None

    def endpoint(self, endpoint_id: str) -> Endpoint | None:
        row = self.conn.execute(select(t.endpoints).where(t.endpoints.c.id == endpoint_id)).first()
        return _endpoint(row) if row else None

    def endpoint_named(self, party_id: str, name: str) -> Endpoint | None:
        e = t.endpoints.c
        row = self.conn.execute(select(t.endpoints).where(e.party_id == party_id, e.name == name)).first()
        return _endpoint(row) if row else None

    def endpoints(self) -> list[Endpoint]:
        rows = self.conn.execute(select(t.endpoints).order_by(t.endpoints.c.created_at, t.endpoints.c.id))
        return [_endpoint(r) for r in rows]

    def enabled_endpoint_count(self) -> int:
        e = t.endpoints.c
        return int(self.conn.execute(select(func.count()).where(e.disabled.is_(False))).scalar_one())

    def endpoint_status(self, endpoint_id: str) -> tuple[int, datetime | None]:
        """(the last event of its party's log it was sent, when it was last seen)."""
        row = self.conn.execute(
            select(t.endpoints.c.delivered_seq, t.endpoints.c.last_seen_at).where(t.endpoints.c.id == endpoint_id)
        ).one()
        return int(row.delivered_seq), codec.opt_parse_ts(row.last_seen_at)

    def set_endpoint_token_hash(self, endpoint_id: str, token_hash: str) -> None:
        self.conn.execute(update(t.endpoints).where(t.endpoints.c.id == endpoint_id).values(token_hash=token_hash))

    def disable_endpoint(self, endpoint_id: str) -> None:
        self.conn.execute(update(t.endpoints).where(t.endpoints.c.id == endpoint_id).values(disabled=True))

    def mark_delivered(self, endpoint_id: str, upto_seq: int, at: datetime) -> list[tuple[str, int]]:
        """The endpoint was sent everything of its party's log up to ``upto_seq``; returns the (notice id, event
        seq) of the deliveries this marked."""
        e = t.endpoints.c
        before = self.conn.execute(select(e.delivered_seq).where(e.id == endpoint_id)).scalar_one()
        seq = case((e.delivered_seq < upto_seq, upto_seq), else_=e.delivered_seq)  # a stream may replay older events
        self.conn.execute(
            update(t.endpoints).where(e.id == endpoint_id).values(delivered_seq=seq, last_seen_at=codec.ts(at))
        )
        if upto_seq > before:  # everything up to ``before`` is marked already: don't walk the endpoint's history
            params = {"endpoint": endpoint_id, "after": before, "upto": upto_seq, "at": codec.ts(at)}
            return [(r.notice_id, r.seq) for r in self.conn.execute(_MARK_DELIVERED, params)]
        return []

    def events_for_endpoint(self, party_id: str, endpoint_id: str, seq: int, limit: int) -> list[tuple[int, str, str]]:
        rows = self.conn.execute(
            _EVENTS_FOR_ENDPOINT, {"party": party_id, "endpoint": endpoint_id, "seq": seq, "limit": limit}
        )
        return [(r.seq, r.type, r.data) for r in rows]

    # -- channels ---

    def insert_channel(self, ch: Channel) -> None:
        self.conn.execute(
            insert(t.channels).values(
                id=ch.id, name=ch.name, created_by=ch.created_by, created_at=codec.ts(ch.created_at)
            )
        )
        for party_id in sorted(ch.members):
            accepted = codec.ts(ch.created_at) if party_id in ch.accepted else None
            self.conn.execute(
                insert(t.channel_members).values(channel_id=ch.id, party_id=party_id, accepted_at=accepted)
            )

    def accept_channel(self, channel_id: str, party_id: str, at: datetime) -> None:
        m = t.channel_members.c
        self.conn.execute(
            update(t.channel_members)
            .where(m.channel_id == channel_id, m.party_id == party_id)
            .values(accepted_at=codec.ts(at))
        )

    def channel(self, channel_id: str) -> Channel | None:
        found = self._channels(t.channels.c.id == channel_id)
        return found[0] if found else None

    def channels_of(self, party_id: str) -> list[Channel]:
        mine = select(t.channel_members.c.channel_id).where(t.channel_members.c.party_id == party_id)
        return self._channels(t.channels.c.id.in_(mine))

    def _channels(self, where: Any) -> list[Channel]:
        rows = self.conn.execute(select(t.channels).where(where).order_by(t.channels.c.created_at)).all()
        ids = [r.id for r in rows]
        members: dict[str, list[tuple[str, bool]]] = {i: [] for i in ids}
        for m in self.conn.execute(select(t.channel_members).where(t.channel_members.c.channel_id.in_(ids))):
            members[m.channel_id].append((m.party_id, m.accepted_at is not None))
        return [
            Channel(
                id=r.id,
                name=r.name,
                members=frozenset(p for p, _ in members[r.id]),
                accepted=frozenset(p for p, ok in members[r.id] if ok),
                created_by=r.created_by,
                created_at=codec.parse_ts(r.created_at),
            )
            for r in rows
        ]

    # -- messages ---

    def insert_message(self, m: Message) -> None:
        self.conn.execute(
            insert(t.messages).values(
                id=m.id,
                sender_id=m.sender_id,
                channel_id=m.channel_id,
                recipients=orjson.dumps(list(m.recipients)).decode(),
                priority=str(m.priority),
                template=m.template,
                fields=orjson.dumps(m.fields).decode() if m.fields is not None else None,
                body=m.body,
                refs=orjson.dumps(list(m.refs)).decode(),
                ack_within_s=m.ack_within_s,
                created_at=codec.ts(m.created_at),
            )
        )

    def message(self, message_id: str) -> Message | None:
        row = self.conn.execute(select(t.messages).where(t.messages.c.id == message_id)).first()
        return _message(row) if row else None

    def messages_for(self, party_id: str, limit: int, after: str | None) -> list[Message]:
        """Messages the party sent or received, oldest first."""
        m = t.messages.c
        received = select(t.notices.c.id).where(t.notices.c.party_id == party_id)
        query = select(t.messages).where(or_(m.sender_id == party_id, m.id.in_(received)))
        if after is not None:
            query = query.where(m.id > after)
        return [_message(r) for r in self.conn.execute(query.order_by(m.id).limit(limit))]

    # -- notices and deliveries ---

    def insert_notice(self, n: Notice) -> None:
        self.insert_notices([n])

    def insert_notices(self, notices: list[Notice]) -> None:
        _INSERT_NOTICE(self.conn, [_INSERT_NOTICE.row(_notice_values(n)) for n in notices])

    def update_notice(self, n: Notice) -> None:
        c = t.notices.c
        values = _notice_values(n)
        self.conn.execute(update(t.notices).where(and_(c.id == n.id, c.party_id == n.party_id)).values(**values))

    def notice(self, notice_id: str, party_id: str) -> Notice | None:
        c = t.notices.c
        row = self.conn.execute(select(t.notices).where(c.id == notice_id, c.party_id == party_id)).first()
        return _notice(row) if row else None

    def close_notices(self, notice_id: str, at: datetime) -> None:
        c = t.notices.c
        self.conn.execute(
            update(t.notices)
            .where(c.id == notice_id, c.acknowledged_at.is_(None), c.closed_at.is_(None))
            .values(closed_at=codec.ts(at))
        )

    def notices_of(self, notice_id: str) -> list[Notice]:
        rows = self.conn.execute(select(t.notices).where(t.notices.c.id == notice_id).order_by(t.notices.c.party_id))
        return [_notice(r) for r in rows]

    def overdue_notices(self, now: datetime, limit: int) -> list[Notice]:
        """Unacknowledged notices whose deadline has passed and that can still escalate, earliest deadline first."""
        c = t.notices.c
        query = (
            select(t.notices)
            .where(
                c.acknowledged_at.is_(None),
                c.closed_at.is_(None),
                c.step < int(Step.MONITORS),
                c.deadline_s <= now.timestamp(),
            )
            .order_by(c.deadline_s, c.id, c.party_id)
            .limit(limit)
        )
        return [_notice(r) for r in self.conn.execute(query)]

    def pending_notices(self, party_id: str, limit: int) -> list[Notice]:
        """The party's unacknowledged notices, earliest deadline first (its inbox)."""
        c = t.notices.c
        query = (
            select(t.notices)
            .where(c.party_id == party_id, c.acknowledged_at.is_(None), c.closed_at.is_(None))
            .order_by(c.deadline_s, c.id)
            .limit(limit)
        )
        return [_notice(r) for r in self.conn.execute(query)]

    def insert_delivery(self, d: Delivery) -> None:
        _INSERT_DELIVERY(self.conn, [(d.notice_id, d.endpoint_id, d.party_id, d.seq, codec.ts(d.queued_at))])

    def deliveries_of(self, notice_id: str) -> list[Delivery]:
        d = t.deliveries.c
        rows = self.conn.execute(select(t.deliveries).where(d.notice_id == notice_id).order_by(d.queued_at))
        return [_delivery(r) for r in rows]

    def delete_deliveries(self, notice_id: str) -> None:
        self.conn.execute(delete(t.deliveries).where(t.deliveries.c.notice_id == notice_id))

    def set_delivery_time(self, notice_id: str, endpoint_id: str, column: str, at: datetime) -> bool:
        """Stamp ``read_at`` or ``acknowledged_at`` (first time only); reading or acknowledging implies delivery.
        Returns whether this is what marked it delivered."""
        d = t.deliveries.c
        where = and_(d.notice_id == notice_id, d.endpoint_id == endpoint_id)
        stamp = codec.ts(at)
        unseen = update(t.deliveries).where(where, d.delivered_at.is_(None)).values(delivered_at=stamp)
        delivered = self.conn.execute(unseen).rowcount > 0
        if column == "acknowledged_at":
            self.conn.execute(update(t.deliveries).where(where, d.read_at.is_(None)).values(read_at=stamp))
        target = d.read_at if column == "read_at" else d.acknowledged_at
        self.conn.execute(update(t.deliveries).where(where, target.is_(None)).values({column: stamp}))
        return delivered
