"""The SQLAlchemy adapter's part for the record: log entries, signed tree heads and parties' public keys.

``record`` appends one entry to the log inside the unit of work's transaction, so a change and its entry commit
or roll back together. Indexes are given out from the log's size as this transaction sees it; two writers
cannot both take an index, because the primary key refuses the second (its transaction fails and is retried).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from deconfliction.core.record import (
    SALT_SIZE,
    LogEntry,
    PartyKey,
    SignedHead,
    TreeHead,
    Verbatim,
    document_leaf_hash,
    entry_document,
    entry_fields,
    to_ms,
)
from deconfliction.store import tables as t
from deconfliction.store.port import StaleLog
from deconfliction.store.raw import FastInsert, dbapi

_E = t.audit_entries.c
_LEAVES = select(_E.leaf_hash).where(_E.idx >= bindparam("lo"), _E.idx < bindparam("hi")).order_by(_E.idx)
_ENTRIES = select(t.audit_entries).where(_E.idx >= bindparam("lo")).order_by(_E.idx).limit(bindparam("limit"))
_H = t.audit_heads.c


def _entry(row: Row[Any]) -> LogEntry:
    visible = frozenset(orjson.loads(row.visible)) if row.visible is not None else None
    return LogEntry(
        index=row.idx,
        at_ms=row.at_ms,
        kind=row.kind,
        subject=row.subject,
        visible=visible,
        document=row.document.encode(),
        leaf_hash=bytes(row.leaf_hash),
    )


def _head(row: Row[Any]) -> SignedHead:
    return SignedHead(TreeHead(row.size, bytes(row.root_hash), row.timestamp_ms), bytes(row.signature))


def _key(row: Row[Any]) -> PartyKey:
    return PartyKey(row.id, row.party_id, row.public_key, row.created_at_ms, row.revoked_at_ms)


# What every change batch asks and writes goes straight to SQLite (``store/raw.py``).
_INSERT_ENTRY = FastInsert(t.audit_entries, ("idx", "at_ms", "kind", "subject", "visible", "document", "leaf_hash"))
_INSERT_HEAD = FastInsert(t.audit_heads, ("size", "timestamp_ms", "root_hash", "signature"))
_AUDIT_SIZE_SQL = "SELECT max(idx) FROM audit_entries"


class AuditQueries:
    """Mixed into ``SqlUnitOfWork``. Entries are written together when the unit of work ends (``_flush_audit``, from
    ``SqlUnitOfWork.flush`` before the store commits), with one ``executemany``; the batch's size query too skips
    SQLAlchemy."""

    conn: Connection
    _audit_next: int | None = None
    _audit_hint: int | None = None
    appended: list[LogEntry]
    _unwritten: list[tuple[Any, ...]]

    def expect_audit_size(self, size: int) -> None:
        """The caller knows the log's size (the hub holds it in memory): don't ask the database. Should another
        writer have appended meanwhile, the primary key refuses this transaction's entries and it fails whole."""
        self._audit_hint = size

    # -- the log ---

    def record(
        self,
        at: datetime,
        kind: str,
        subject: str | None,
        data: Mapping[str, Any] | Verbatim,
        visible: Iterable[str] | None,
    ) -> LogEntry:
        """Append one entry, in this transaction. ``visible``: who is shown its document (``None``: everyone)."""
        if self._audit_next is None:
            self._audit_next = self._audit_hint if self._audit_hint is not None else self.audit_size()
            self.appended = []
            self._unwritten = []
        index = self._audit_next
        at_ms = to_ms(at)
        document = entry_document(entry_fields(index, at_ms, kind, subject, data), os.urandom(SALT_SIZE))
        leaf = document_leaf_hash(document)
        shown = frozenset(visible) if visible is not None else None
        visible_text = orjson.dumps(sorted(shown)).decode() if shown is not None else None
        self._unwritten.append((index, at_ms, kind, subject, visible_text, document.decode(), leaf))
        self._audit_next = index + 1
        entry = LogEntry(index, at_ms, kind, subject, shown, document, leaf)
        self.appended.append(entry)
        return entry

    def _flush_audit(self) -> None:
        """Write the entries appended since the last flush."""
        if self._audit_next is not None and self._unwritten:
            try:
                _INSERT_ENTRY(self.conn, self._unwritten)
            except (IntegrityError, sqlite3.IntegrityError) as exc:
                if self._audit_hint is None:
                    raise
                raise StaleLog(f"the record grew beyond {self._audit_hint} entries in another process") from exc
            self._unwritten = []

    def recorded(self) -> list[LogEntry]:
        """The entries this unit of work appended, in order."""
        return list(self.appended) if self._audit_next is not None else []

    def audit_size(self) -> int:
        """Asked by a batch after another process committed (``AuditLog.begin``) and by the 1 Hz head task:
        straight to the DB-API when it can (~5 µs, not ~60)."""
        raw = dbapi(self.conn)
        if raw is not None:
            last = raw.execute(_AUDIT_SIZE_SQL).fetchone()[0]
        else:
            last = self.conn.exec_driver_sql(_AUDIT_SIZE_SQL).scalar()
        return 0 if last is None else int(last) + 1

    def audit_leaves(self, start: int, stop: int) -> list[bytes]:
        return [bytes(h) for h in self.conn.execute(_LEAVES, {"lo": start, "hi": stop}).scalars()]

    def audit_entries(self, start: int, limit: int) -> list[LogEntry]:
        """Entries ``start``, ``start + 1``, … (at most ``limit``)."""
        return [_entry(row) for row in self.conn.execute(_ENTRIES, {"lo": start, "limit": limit})]

    def audit_about(self, subjects: list[str]) -> list[LogEntry]:
        query = select(t.audit_entries).where(_E.subject.in_(subjects)).order_by(_E.idx)
        return [_entry(row) for row in self.conn.execute(query)]

    def audit_latest(self, subject: str, kinds: tuple[str, ...] = ()) -> LogEntry | None:
        """The last entry about ``subject`` (of one of ``kinds``, if given), this transaction's unwritten ones
        included."""
        if self._audit_next is not None:
            for entry in reversed(self.appended):
                if entry.subject == subject and (not kinds or entry.kind in kinds):
                    return entry
        query = select(t.audit_entries).where(_E.subject == subject).order_by(_E.idx.desc()).limit(1)
        if kinds:
            query = query.where(_E.kind.in_(kinds))
        row = self.conn.execute(query).first()
        return _entry(row) if row else None

    # -- signed tree heads ---

    def insert_head(self, signed: SignedHead) -> None:
        h = signed.head
        _INSERT_HEAD(self.conn, [(h.size, h.timestamp_ms, h.root_hash, signed.signature)])

    def latest_head(self) -> SignedHead | None:
        row = self.conn.execute(select(t.audit_heads).order_by(_H.id.desc()).limit(1)).first()
        return _head(row) if row else None

    def audit_heads(self) -> list[SignedHead]:
        """Every stored signed head, oldest first."""
        return [_head(row) for row in self.conn.execute(select(t.audit_heads).order_by(_H.id))]

    # -- parties' public keys ---

    def insert_party_key(self, key: PartyKey) -> None:
        self.conn.execute(
            insert(t.party_keys).values(
                id=key.id, party_id=key.party_id, public_key=key.public_key, created_at_ms=key.created_at_ms
            )
        )

    def revoke_party_key(self, key_id: str, at_ms: int) -> None:
        k = t.party_keys.c
        self.conn.execute(update(t.party_keys).where(k.id == key_id).values(revoked_at_ms=at_ms))

    def party_key(self, key_id: str) -> PartyKey | None:
        row = self.conn.execute(select(t.party_keys).where(t.party_keys.c.id == key_id)).first()
        return _key(row) if row else None

    def party_key_by_value(self, public_key: str) -> PartyKey | None:
        row = self.conn.execute(select(t.party_keys).where(t.party_keys.c.public_key == public_key)).first()
        return _key(row) if row else None

    def party_keys(self, party_id: str) -> list[PartyKey]:
        k = t.party_keys.c
        query = select(t.party_keys).where(k.party_id == party_id).order_by(k.created_at_ms)
        return [_key(row) for row in self.conn.execute(query)]
