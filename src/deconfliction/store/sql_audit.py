"""The SQLAlchemy adapter's part for the record: log entries, signed tree heads and parties' public keys.

``record`` appends one entry to the log inside the unit of work's transaction, so a change and its entry commit
or roll back together. Indexes are given out from the log's size as this transaction sees it; two writers
cannot both take an index, because the primary key refuses the second (its transaction fails and is retried).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Connection, bindparam, func, insert, select, update
from sqlalchemy.engine import Row

from deconfliction.core.record import (
    SALT_SIZE,
    LogEntry,
    PartyKey,
    SignedHead,
    TreeHead,
    document_leaf_hash,
    entry_document,
    entry_fields,
    to_ms,
)
from deconfliction.store import tables as t

_E = t.audit_entries.c
_INSERT_ENTRY = insert(t.audit_entries)
_SIZE = select(func.max(_E.idx))
_LEAVES = select(_E.leaf_hash).where(_E.idx >= bindparam("lo"), _E.idx < bindparam("hi")).order_by(_E.idx)
_ENTRIES = select(t.audit_entries).where(_E.idx >= bindparam("lo")).order_by(_E.idx).limit(bindparam("limit"))
_INSERT_HEAD = insert(t.audit_heads)
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


class AuditQueries:
    """Mixed into ``SqlUnitOfWork``."""

    conn: Connection
    _audit_next: int | None = None
    appended: list[LogEntry]

    # -- the log ---

    def record(
        self,
        at: datetime,
        kind: str,
        subject: str | None,
        data: Mapping[str, Any],
        visible: Iterable[str] | None,
    ) -> LogEntry:
        """Append one entry, in this transaction. ``visible``: who is shown its document (``None``: everyone)."""
        if self._audit_next is None:
            self._audit_next = self.audit_size()
            self.appended = []
        index = self._audit_next
        at_ms = to_ms(at)
        document = entry_document(entry_fields(index, at_ms, kind, subject, data), os.urandom(SALT_SIZE))
        leaf = document_leaf_hash(document)
        shown = frozenset(visible) if visible is not None else None
        self.conn.execute(
            _INSERT_ENTRY,
            {
                "idx": index,
                "at_ms": at_ms,
                "kind": kind,
                "subject": subject,
                "visible": orjson.dumps(sorted(shown)).decode() if shown is not None else None,
                "document": document.decode(),
                "leaf_hash": leaf,
            },
        )
        self._audit_next = index + 1
        entry = LogEntry(index, at_ms, kind, subject, shown, document, leaf)
        self.appended.append(entry)
        return entry

    def recorded(self) -> list[LogEntry]:
        """The entries this unit of work appended, in order."""
        return list(self.appended) if self._audit_next is not None else []

    def audit_size(self) -> int:
        last = self.conn.execute(_SIZE).scalar_one_or_none()
        return 0 if last is None else last + 1

    def audit_leaves(self, start: int, stop: int) -> list[bytes]:
        return [bytes(h) for h in self.conn.execute(_LEAVES, {"lo": start, "hi": stop}).scalars()]

    def audit_entries(self, start: int, limit: int) -> list[LogEntry]:
        """Entries ``start``, ``start + 1``, … (at most ``limit``)."""
        return [_entry(row) for row in self.conn.execute(_ENTRIES, {"lo": start, "limit": limit})]

    def audit_about(self, subjects: list[str]) -> list[LogEntry]:
        query = select(t.audit_entries).where(_E.subject.in_(subjects)).order_by(_E.idx)
        return [_entry(row) for row in self.conn.execute(query)]

    def audit_latest(self, subject: str, kinds: tuple[str, ...] = ()) -> LogEntry | None:
        """The last entry about ``subject`` (of one of ``kinds``, if given)."""
        query = select(t.audit_entries).where(_E.subject == subject).order_by(_E.idx.desc()).limit(1)
        if kinds:
            query = query.where(_E.kind.in_(kinds))
        row = self.conn.execute(query).first()
        return _entry(row) if row else None

    # -- signed tree heads ---

    def insert_head(self, signed: SignedHead) -> None:
        h = signed.head
        self.conn.execute(
            _INSERT_HEAD,
            {"size": h.size, "timestamp_ms": h.timestamp_ms, "root_hash": h.root_hash, "signature": signed.signature},
        )

    def latest_head(self) -> SignedHead | None:
        row = self.conn.execute(select(t.audit_heads).order_by(_H.id.desc()).limit(1)).first()
        return _head(row) if row else None

    def audit_heads(self, max_size: int | None = None) -> list[SignedHead]:
        """Every signed head, oldest first (up to ``max_size`` leaves)."""
        query = select(t.audit_heads).order_by(_H.id)
        if max_size is not None:
            query = query.where(_H.size <= max_size)
        return [_head(row) for row in self.conn.execute(query)]

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
