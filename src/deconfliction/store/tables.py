"""The relational schema (SQLAlchemy Core). Migrations in ``migrations/versions`` create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

meta = Table(
    "meta",
    metadata,
    Column("key", String, primary_key=True),
    Column("value", Text, nullable=False),
)

coalitions = Table(
    "coalitions",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("created_at", String, nullable=False),
)

parties = Table(
    "parties",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False, unique=True),
    Column("role", String, nullable=False),
    Column("coalition_id", String, ForeignKey("coalitions.id"), nullable=True),
    Column("token_hash", String, nullable=False, unique=True),
    Column("created_at", String, nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("id", String, primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("volumes", Text, nullable=False),
    Column("description", Text),
    Column("callsign", String),
    Column("priority", Integer),
    Column("cancelled", Boolean, nullable=False),
    Column("ended_at", String),
    Column("ends_at", Float, nullable=False, index=True),  # epoch seconds of the last volume's end
    Column("created_at", String, nullable=False),
    Column("updated_at", String, nullable=False),
)

sites = Table(
    "sites",
    metadata,
    Column("id", String, primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), nullable=False, index=True),
    Column("version", Integer, nullable=False),
    Column("name", String, nullable=False),
    Column("category", String, nullable=False),
    Column("volume", Text, nullable=False),
    Column("recipients", Text),  # JSON list of party ids; NULL = every party
    Column("withdrawn", Boolean, nullable=False),
    Column("ends_at", Float, nullable=False, index=True),
    Column("created_at", String, nullable=False),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", String, primary_key=True),
    Column("kind", String, nullable=False),
    Column("a_type", String, nullable=False),
    Column("a_id", String, nullable=False),
    Column("a_party", String, nullable=False),
    Column("a_volume", Integer, nullable=False),
    Column("b_type", String, nullable=False),
    Column("b_id", String, nullable=False),
    Column("b_party", String, nullable=False),
    Column("b_volume", Integer, nullable=False),
    Column("overlap", Text, nullable=False),
    Column("overlap_end", Float, nullable=False),
    Column("revision", Integer, nullable=False),
    Column("status", String, nullable=False),  # derived from the rest, stored to filter and page on it
    Column("created_at", String, nullable=False),
    Column("updated_at", String, nullable=False),
    Column("resolved_at", String),
    Column("resolution", String),
    Index("ix_conflicts_a", "a_id"),
    Index("ix_conflicts_b", "b_id"),
    Index("ix_conflicts_a_party", "a_party", "status"),
    Index("ix_conflicts_b_party", "b_party", "status"),
    Index("ix_conflicts_open_end", "resolved_at", "overlap_end"),
)

acknowledgements = Table(
    "acknowledgements",
    metadata,
    Column("conflict_id", String, ForeignKey("conflicts.id"), primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), primary_key=True),
    Column("revision", Integer, primary_key=True),
    Column("at", String, nullable=False),
    Column("note", Text),
    Column("signature", Text),
)

events = Table(
    "events",
    metadata,
    Column("party_id", String, ForeignKey("parties.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String, nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", String, nullable=False),
)

idempotency = Table(
    "idempotency",
    metadata,
    Column("party_id", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("request_hash", String, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", String, nullable=False),
)
