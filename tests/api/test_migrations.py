"""The Alembic migrations build exactly the schema the adapter's queries are written against (``tables.py``)."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from deconfliction.store import tables
from deconfliction.store.sql import SqlStore


def test_migrations_match_the_tables(tmp_path: Path) -> None:
    store = SqlStore.sqlite(tmp_path / "hub.db")  # upgrades to the newest revision
    try:
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), tables.metadata)
    finally:
        store.close()
    assert diff == []
