"""The SQLAlchemy adapter of the storage port; SQLite by default (WAL, synchronous=FULL).

Queries are SQLAlchemy Core statements, never SQL built in handlers. Schema changes go through Alembic: the store
upgrades the database to the newest revision when it opens it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, and_, bindparam, create_engine, event, func, insert, or_, select, update
from sqlalchemy.engine import Row

from deconfliction.core.model import (
    Acknowledgement,
    Coalition,
    Conflict,
    ConflictKind,
    ConflictStatus,
    ObjectRef,
    ObjectType,
    Operation,
    Party,
    Resolution,
    Role,
    Site,
)
from deconfliction.store import codec
from deconfliction.store import tables as t
from deconfliction.store.raw import FastInsert, dbapi
from deconfliction.store.sql_alerts import AlertQueries
from deconfliction.store.sql_audit import AuditQueries
from deconfliction.store.sql_health import HealthQueries
from deconfliction.store.sql_line import LineQueries
from deconfliction.store.sql_tracks import TrackQueries

_MIGRATIONS = Path(__file__).with_name("migrations")

# Statements are built once with bind parameters: building one per call costs more than running it on SQLite.
_UPDATE_OPERATION = update(t.operations).where(t.operations.c.id == bindparam("_id"))
_OPERATION = select(t.operations).where(t.operations.c.id == bindparam("id"))
_INSERT_SITE = insert(t.sites)
_UPDATE_SITE = update(t.sites).where(t.sites.c.id == bindparam("_id"))
_SITE = select(t.sites).where(t.sites.c.id == bindparam("id"))
_UPDATE_CONFLICT = update(t.conflicts).where(t.conflicts.c.id == bindparam("_id"))
_CONFLICT = select(t.conflicts).where(t.conflicts.c.id == bindparam("id"))
_OPEN_CONFLICTS_OF = select(t.conflicts).where(
    t.conflicts.c.resolved_at.is_(None),
    or_(
        and_(t.conflicts.c.a_id == bindparam("id"), t.conflicts.c.a_type == bindparam("type")),
        and_(t.conflicts.c.b_id == bindparam("id"), t.conflicts.c.b_type == bindparam("type")),
    ),
)
_ACKS = (
    select(t.acknowledgements)
    .where(t.acknowledgements.c.conflict_id.in_(bindparam("ids", expanding=True)))
    .order_by(t.acknowledgements.c.at)
)
_INSERT_ACK = insert(t.acknowledgements)
_EVENTS_AFTER = (
    select(t.events.c.seq, t.events.c.type, t.events.c.data)
    .where(t.events.c.party_id == bindparam("party"), t.events.c.seq > bindparam("seq"))
    .order_by(t.events.c.seq)
    .limit(bindparam("limit"))
)
_PARTY_BY_TOKEN = select(t.parties).where(t.parties.c.token_hash == bindparam("hash"))
_PARTY = select(t.parties).where(t.parties.c.id == bindparam("id"))
_PARTY_COUNT = select(func.count()).select_from(t.parties)
_STORED_RESPONSE = select(t.idempotency.c.request_hash, t.idempotency.c.status, t.idempotency.c.body).where(
    t.idempotency.c.party_id == bindparam("party"), t.idempotency.c.key == bindparam("key")
)
_INSERT_RESPONSE = insert(t.idempotency)

# The rows a declaration writes go straight to SQLite (``store/raw.py``): its own, and those of each conflict.
_INSERT_OPERATION = FastInsert(t.operations, (
    "id", "party_id", "version", "volumes", "description", "callsign", "priority", "cancelled", "ended_at", "ends_at",
    "created_at", "updated_at",
))  # fmt: skip
_CONFLICT_COLUMNS = (
    "id", "kind", "overlap", "overlap_end", "revision", "status", "created_at", "updated_at", "resolved_at",
    "resolution", "a_type", "a_id", "a_party", "a_volume", "b_type", "b_id", "b_party", "b_volume",
)  # fmt: skip
_INSERT_CONFLICT = FastInsert(t.conflicts, _CONFLICT_COLUMNS)
_INSERT_EVENT = FastInsert(t.events, ("endpoint_id", "party_id", "seq", "type", "data", "created_at"))


def sqlite_engine(path: Path, synchronous: str = "FULL") -> Engine:
    # LIFO: the writer gets back the connection it last wrote through, whose ``data_version`` tells it whether
    # anyone else has committed since (``SqlStore.write``).
    engine = create_engine(f"sqlite:///{path}", pool_size=8, max_overflow=8, pool_use_lifo=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection: Any, _record: Any) -> None:
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=10000")
        # Checkpoints run from ``checkpoint()`` beside the writer, not inside a commit that a client waits for.
        cur.execute("PRAGMA wal_autocheckpoint=0")
        cur.close()

    return engine


_SEEN = "deconfliction_data_version"


def _data_version(conn: Connection) -> int | None:
    """SQLite's ``PRAGMA data_version`` on this connection: it changes when another connection commits to the
    database, and only then (https://sqlite.org/pragma.html#pragma_data_version). None on other databases."""
    raw = dbapi(conn)
    return None if raw is None else int(raw.execute("PRAGMA data_version").fetchone()[0])


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision."""
    cfg = Config()
    cfg.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


class SqlStore:
    """A store on one SQLAlchemy engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        upgrade(engine)

    @classmethod
    def sqlite(cls, path: Path, synchronous: str = "FULL") -> SqlStore:
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(sqlite_engine(path, synchronous))

    @contextmanager
    def write(self) -> Iterator[SqlUnitOfWork]:
        with self.engine.begin() as conn:
            uow = SqlUnitOfWork(conn)
            seen, info = _data_version(conn), conn.info  # ``info``: kept with the DB-API connection in the pool
            uow.committed_elsewhere = seen is None or info.get(_SEEN) != seen
            yield uow
            uow.flush()
        # This connection's own commits leave its data_version as it was: a unit of work that did not catch up
        # may have changed what the writer holds, so the next one on this connection re-reads.
        if seen is not None and uow.is_caught_up:
            info[_SEEN] = seen
        else:
            info.pop(_SEEN, None)

    @contextmanager
    def read(self) -> Iterator[SqlUnitOfWork]:
        with self.engine.connect() as conn:
            yield SqlUnitOfWork(conn)

    def checkpoint(self) -> None:
        """Copy the write-ahead log into the database without blocking the writer (SQLite PASSIVE mode)."""
        with self.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        self.engine.dispose()  # the last connection to close checkpoints the log into the database


def _party(row: Row[Any]) -> Party:
    return Party(id=row.id, name=row.name, role=Role(row.role), coalition_id=row.coalition_id, language=row.language)


def _operation(row: Row[Any]) -> Operation:
    return Operation(
        id=row.id,
        party_id=row.party_id,
        version=row.version,
        volumes=codec.volumes_loads(row.volumes),
        created_at=codec.parse_ts(row.created_at),
        updated_at=codec.parse_ts(row.updated_at),
        description=row.description,
        callsign=row.callsign,
        priority=row.priority,
        cancelled=bool(row.cancelled),
        ended_at=codec.parse_ts(row.ended_at) if row.ended_at else None,
    )


def _operation_values(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "party_id": op.party_id,
        "version": op.version,
        "volumes": codec.volumes_dumps(op.volumes),
        "description": op.description,
        "callsign": op.callsign,
        "priority": op.priority,
        "cancelled": op.cancelled,
        "ended_at": codec.ts(op.ended_at) if op.ended_at else None,
        "ends_at": op.window.end.timestamp(),
        "created_at": codec.ts(op.created_at),
        "updated_at": codec.ts(op.updated_at),
    }


def _site(row: Row[Any]) -> Site:
    recipients = orjson.loads(row.recipients) if row.recipients is not None else None
    return Site(
        id=row.id,
        party_id=row.party_id,
        version=row.version,
        name=row.name,
        category=row.category,
        volume=codec.volume_from_json(orjson.loads(row.volume)),
        created_at=codec.parse_ts(row.created_at),
        recipients=frozenset(recipients) if recipients is not None else None,
        withdrawn=bool(row.withdrawn),
    )


def _site_values(site: Site) -> dict[str, Any]:
    return {
        "id": site.id,
        "party_id": site.party_id,
        "version": site.version,
        "name": site.name,
        "category": site.category,
        "volume": orjson.dumps(codec.volume_to_json(site.volume)).decode(),
        "recipients": orjson.dumps(sorted(site.recipients)).decode() if site.recipients is not None else None,
        "withdrawn": site.withdrawn,
        "ends_at": site.volume.time.end.timestamp(),
        "created_at": codec.ts(site.created_at),
    }


def _conflict_values(c: Conflict) -> dict[str, Any]:
    values: dict[str, Any] = {
        "id": c.id,
        "kind": str(c.kind),
        "overlap": codec.overlap_dumps(c.overlap),
        "overlap_end": c.overlap.time.end.timestamp(),
        "revision": c.revision,
        "status": str(c.status),
        "created_at": codec.ts(c.created_at),
        "updated_at": codec.ts(c.updated_at),
        "resolved_at": codec.ts(c.resolved_at) if c.resolved_at else None,
        "resolution": str(c.resolution) if c.resolution else None,
    }
    for name, ref in (("a", c.a), ("b", c.b)):
        values |= {
            f"{name}_type": str(ref.type),
            f"{name}_id": ref.id,
            f"{name}_party": ref.party_id,
            f"{name}_volume": ref.volume,
        }
    return values


class SqlUnitOfWork(LineQueries, HealthQueries, AuditQueries, TrackQueries, AlertQueries):
    """One transaction (or one read) on one connection."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.committed_elsewhere = True
        self.is_caught_up = False
        self._events: list[tuple[str | None, str, int, str, dict[str, Any], str]] = []

    def caught_up(self) -> None:
        self.is_caught_up = True

    def flush(self) -> None:
        if self._events:
            rows = [(e, p, seq, kind, orjson.dumps(data).decode(), at) for e, p, seq, kind, data, at in self._events]
            self._events = []
            _INSERT_EVENT(self.conn, rows)
        self._flush_audit()

    # -- parties ---

    def insert_coalition(self, coalition: Coalition, at: datetime) -> None:
        self.conn.execute(insert(t.coalitions).values(id=coalition.id, name=coalition.name, created_at=codec.ts(at)))

    def coalition_by_name(self, name: str) -> Coalition | None:
        row = self.conn.execute(select(t.coalitions).where(t.coalitions.c.name == name)).first()
        return Coalition(id=row.id, name=row.name) if row else None

    def insert_party(self, party: Party, token_hash: str, at: datetime) -> None:
        self.conn.execute(
            insert(t.parties).values(
                id=party.id,
                name=party.name,
                role=str(party.role),
                coalition_id=party.coalition_id,
                token_hash=token_hash,
                created_at=codec.ts(at),
                language=party.language,
            )
        )

    def set_token_hash(self, party_id: str, token_hash: str) -> None:
        self.conn.execute(update(t.parties).where(t.parties.c.id == party_id).values(token_hash=token_hash))

    def party_by_token_hash(self, token_hash: str) -> Party | None:
        row = self.conn.execute(_PARTY_BY_TOKEN, {"hash": token_hash}).first()
        return _party(row) if row else None

    def party(self, party_id: str) -> Party | None:
        row = self.conn.execute(_PARTY, {"id": party_id}).first()
        return _party(row) if row else None

    def party_by_name(self, name: str) -> Party | None:
        row = self.conn.execute(select(t.parties).where(t.parties.c.name == name)).first()
        return _party(row) if row else None

    def parties(self) -> list[Party]:
        return [_party(r) for r in self.conn.execute(select(t.parties).order_by(t.parties.c.created_at))]

    def party_count(self) -> int:
        return int(self.conn.execute(_PARTY_COUNT).scalar_one())

    # -- operations and sites ---

    def insert_operation(self, op: Operation) -> None:
        _INSERT_OPERATION(self.conn, [_INSERT_OPERATION.row(_operation_values(op))])

    def update_operation(self, op: Operation) -> None:
        self.conn.execute(_UPDATE_OPERATION, {"_id": op.id, **_operation_values(op)})

    def operation(self, op_id: str) -> Operation | None:
        row = self.conn.execute(_OPERATION, {"id": op_id}).first()
        return _operation(row) if row else None

    def operations_of(
        self, party_ids: list[str], limit: int, after: str | None = None, live_at: datetime | None = None
    ) -> list[Operation]:
        o = t.operations.c
        query = select(t.operations).where(o.party_id.in_(party_ids))
        if after is not None:
            query = query.where(o.id > after)
        if live_at is not None:
            query = query.where(o.ends_at > live_at.timestamp(), o.cancelled.is_(False), o.ended_at.is_(None))
        return [_operation(r) for r in self.conn.execute(query.order_by(o.id).limit(limit))]

    def live_operation_volumes(self, now: datetime) -> Iterator[tuple[str, str, str, int | None]]:
        o = t.operations.c
        rows = self.conn.execute(
            select(o.id, o.party_id, o.volumes, o.priority).where(
                o.ends_at > now.timestamp(), o.cancelled.is_(False), o.ended_at.is_(None)
            )
        )
        for row in rows:
            yield row.id, row.party_id, row.volumes, row.priority

    def insert_site(self, site: Site) -> None:
        self.conn.execute(_INSERT_SITE, _site_values(site))

    def update_site(self, site: Site) -> None:
        self.conn.execute(_UPDATE_SITE, {"_id": site.id, **_site_values(site)})

    def site(self, site_id: str) -> Site | None:
        row = self.conn.execute(_SITE, {"id": site_id}).first()
        return _site(row) if row else None

    def sites_visible_to(self, party_id: str | None) -> list[Site]:
        rows = self.conn.execute(select(t.sites).order_by(t.sites.c.created_at, t.sites.c.id))
        sites = [_site(r) for r in rows]
        if party_id is None:
            return sites
        return [s for s in sites if s.party_id == party_id or s.notified_to(party_id)]

    def live_sites(self, now: datetime) -> Iterator[Site]:
        rows = self.conn.execute(
            select(t.sites).where(t.sites.c.ends_at > now.timestamp(), t.sites.c.withdrawn.is_(False))
        )
        for row in rows:
            yield _site(row)

    # -- conflicts ---

    def insert_conflict(self, conflict: Conflict) -> None:
        _INSERT_CONFLICT(self.conn, [_INSERT_CONFLICT.row(_conflict_values(conflict))])

    def update_conflict(self, conflict: Conflict) -> None:
        self.conn.execute(_UPDATE_CONFLICT, {"_id": conflict.id, **_conflict_values(conflict)})

    def conflict(self, conflict_id: str) -> Conflict | None:
        found = self._conflicts(_CONFLICT, {"id": conflict_id})
        return found[0] if found else None

    def open_conflicts_of(self, obj_type: ObjectType, obj_id: str) -> list[Conflict]:
        return self._conflicts(_OPEN_CONFLICTS_OF, {"id": obj_id, "type": str(obj_type)})

    def conflicts_for(
        self, party_id: str | None, status: ConflictStatus | None, limit: int, after: str | None
    ) -> list[Conflict]:
        c = t.conflicts.c
        query = select(t.conflicts)
        if party_id is not None:
            query = query.where(or_(c.a_party == party_id, c.b_party == party_id))
        if status is not None:
            query = query.where(c.status == str(status))
        if after is not None:
            query = query.where(c.id > after)
        return self._conflicts(query.order_by(c.id).limit(limit))

    def open_conflicts_ending_by(self, now: datetime) -> list[Conflict]:
        c = t.conflicts.c
        return self._conflicts(select(t.conflicts).where(c.resolved_at.is_(None), c.overlap_end <= now.timestamp()))

    def conflict_ids_of(self, obj_id: str) -> list[str]:
        c = t.conflicts.c
        query = select(c.id).where(or_(c.a_id == obj_id, c.b_id == obj_id)).order_by(c.id)
        return list(self.conn.execute(query).scalars())

    def insert_acknowledgement(self, conflict_id: str, ack: Acknowledgement) -> None:
        values = {
            "conflict_id": conflict_id,
            "party_id": ack.party_id,
            "revision": ack.revision,
            "at": codec.ts(ack.at),
            "note": ack.note,
            "signature": ack.signature,
            "key_id": ack.key_id,
            "signed_at": codec.opt_ts(ack.signed_at),
        }
        self.conn.execute(_INSERT_ACK, values)

    def _conflicts(self, query: Any, params: dict[str, Any] | None = None) -> list[Conflict]:
        rows = list(self.conn.execute(query, params or {}))
        if not rows:
            return []
        acks: dict[str, list[Acknowledgement]] = {}
        ack_rows = self.conn.execute(_ACKS, {"ids": [r.id for r in rows]})
        for a in ack_rows:
            acks.setdefault(a.conflict_id, []).append(
                Acknowledgement(
                    party_id=a.party_id,
                    at=codec.parse_ts(a.at),
                    revision=a.revision,
                    note=a.note,
                    signature=a.signature,
                    key_id=a.key_id,
                    signed_at=codec.opt_parse_ts(a.signed_at),
                )
            )
        return [
            Conflict(
                id=r.id,
                kind=ConflictKind(r.kind),
                a=ObjectRef(ObjectType(r.a_type), r.a_id, r.a_party, r.a_volume),
                b=ObjectRef(ObjectType(r.b_type), r.b_id, r.b_party, r.b_volume),
                overlap=codec.overlap_loads(r.overlap),
                created_at=codec.parse_ts(r.created_at),
                updated_at=codec.parse_ts(r.updated_at),
                revision=r.revision,
                resolved_at=codec.parse_ts(r.resolved_at) if r.resolved_at else None,
                resolution=Resolution(r.resolution) if r.resolution else None,
                acknowledgements=tuple(acks.get(r.id, ())),
            )
            for r in rows
        ]

    # -- events ---

    def append_event(
        self, party_id: str, seq: int, type_: str, data: dict[str, Any], at: datetime, endpoint_id: str | None = None
    ) -> None:
        self._events.append((endpoint_id, party_id, seq, type_, data, codec.ts(at)))

    def events_after(self, party_id: str, seq: int, limit: int) -> list[tuple[int, str, str]]:
        rows = self.conn.execute(_EVENTS_AFTER, {"party": party_id, "seq": seq, "limit": limit})
        return [(r.seq, r.type, r.data) for r in rows]

    def last_event_seqs(self, party_id: str | None = None) -> dict[str, int]:
        e = t.events.c
        query = select(e.party_id, func.max(e.seq)).group_by(e.party_id)
        rows = self.conn.execute(query if party_id is None else query.where(e.party_id == party_id))
        return {party: int(seq) for party, seq in rows}

    # -- idempotency and metadata ---

    def stored_response(self, party_id: str, key: str) -> tuple[str, int, str] | None:
        row = self.conn.execute(_STORED_RESPONSE, {"party": party_id, "key": key}).first()
        return (row.request_hash, row.status, row.body) if row else None

    def store_response(self, party_id: str, key: str, request_hash: str, status: int, body: str, at: datetime) -> None:
        values = {
            "party_id": party_id,
            "key": key,
            "request_hash": request_hash,
            "status": status,
            "body": body,
            "created_at": codec.ts(at),
        }
        self.conn.execute(_INSERT_RESPONSE, values)

    def meta(self, key: str) -> str | None:
        row = self.conn.execute(select(t.meta.c.value).where(t.meta.c.key == key)).first()
        return row.value if row else None

    def set_meta(self, key: str, value: str) -> None:
        if self.meta(key) is None:
            self.conn.execute(insert(t.meta).values(key=key, value=value))
        else:
            self.conn.execute(update(t.meta).where(t.meta.c.key == key).values(value=value))
