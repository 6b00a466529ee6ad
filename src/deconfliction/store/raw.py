"""The hot writes, straight to SQLite's DB-API connection under the same transaction.

SQLAlchemy's per-call overhead (~25-30 µs here) is most of what a one-row statement costs on SQLite, and one
heavily overlapping declaration writes ~100 of them (a conflict row and two events per conflict, the record's
entries). Those few statements go to the DB-API connection the SQLAlchemy transaction runs on; every other query
stays SQLAlchemy Core. On a database without SQLite's ``?`` placeholders they take the SQLAlchemy path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, Table, insert


def dbapi(conn: Connection) -> Any | None:
    """The DB-API connection under ``conn`` when its SQL uses ``?`` placeholders (SQLite), else None."""
    return conn.connection.dbapi_connection if conn.dialect.paramstyle == "qmark" else None


class FastInsert:
    """``INSERT INTO table (columns) VALUES (…)``, for rows given as tuples in the order of ``columns``."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        unknown = set(columns) - set(table.c.keys())
        if unknown:
            raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
        self.columns = tuple(columns)
        self.sql = f"INSERT INTO {table.name} ({', '.join(self.columns)}) VALUES ({', '.join('?' * len(columns))})"
        self.statement = insert(table)

    def row(self, values: Mapping[str, Any]) -> tuple[Any, ...]:
        """A row from a mapping with exactly the columns as keys (a value no column takes is a mistake)."""
        if len(values) != len(self.columns):
            raise ValueError(f"INSERT columns {self.columns} do not match the values' keys {sorted(values)}")
        return tuple(values[c] for c in self.columns)

    def __call__(self, conn: Connection, rows: Sequence[tuple[Any, ...]]) -> None:
        """Insert ``rows`` (one ``executemany``) in ``conn``'s transaction."""
        if not rows:
            return
        raw = dbapi(conn)
        if raw is None:
            conn.execute(self.statement, [dict(zip(self.columns, r, strict=True)) for r in rows])
        elif len(rows) == 1:
            raw.execute(self.sql, rows[0])
        else:
            raw.executemany(self.sql, rows)
