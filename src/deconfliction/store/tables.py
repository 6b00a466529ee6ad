"""The relational schema (SQLAlchemy Core). Migrations in ``migrations/versions`` create exactly this."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    Column("language", String, nullable=False, server_default="en"),  # 0002: how templates are rendered to it
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
    Column("key_id", String),  # 0004: the party key that signed it
    Column("signed_at", String),  # 0004: the time the party signed
)

events = Table(
    "events",
    metadata,
    Column("party_id", String, ForeignKey("parties.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("type", String, nullable=False),
    Column("data", Text, nullable=False),
    Column("created_at", String, nullable=False),
    Column("endpoint_id", String),  # 0002: for one endpoint only (escalation to the duty endpoint, line tests)
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

# -- the line (migration 0002) ---

endpoints = Table(
    "endpoints",
    metadata,
    Column("id", String, primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), nullable=False, index=True),
    Column("name", String, nullable=False),
    Column("token_hash", String, nullable=False, unique=True),
    Column("duty", Boolean, nullable=False),
    Column("subscriptions", Text),  # JSON list of event families; NULL = everything
    Column("webhook_url", Text),
    Column("webhook_secret", Text),
    Column("disabled", Boolean, nullable=False),
    Column("delivered_seq", Integer, nullable=False),  # the last event of the party's log it was sent
    Column("last_seen_at", String),
    Column("created_at", String, nullable=False),
    Column("line_state", String),  # up | degraded | down, as last told (core/health.py); NULL: never tested
    Column("line_state_since", String),
    UniqueConstraint("party_id", "name", name="uq_endpoints_party_name"),
)

channels = Table(
    "channels",
    metadata,
    Column("id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("created_by", String),  # NULL: the administrator
    Column("created_at", String, nullable=False),
)

channel_members = Table(
    "channel_members",
    metadata,
    Column("channel_id", String, ForeignKey("channels.id"), primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), primary_key=True, index=True),
    Column("accepted_at", String),
)

messages = Table(
    "messages",
    metadata,
    Column("id", String, primary_key=True),
    Column("sender_id", String, ForeignKey("parties.id"), nullable=False, index=True),
    Column("channel_id", String, ForeignKey("channels.id")),
    Column("recipients", Text, nullable=False),  # JSON list of party ids
    Column("priority", String, nullable=False),
    Column("template", String),
    Column("fields", Text),
    Column("body", Text),
    Column("refs", Text, nullable=False),
    Column("ack_within_s", Float, nullable=False),
    Column("created_at", String, nullable=False),
)

notices = Table(
    "notices",
    metadata,
    Column("id", String, primary_key=True),  # the message or conflict id
    Column("party_id", String, ForeignKey("parties.id"), primary_key=True),
    Column("kind", String, nullable=False),
    Column("sender_id", String),
    Column("priority", String, nullable=False),
    Column("window_s", Float, nullable=False),
    Column("deadline_at", String, nullable=False),
    Column("deadline_s", Float, nullable=False),  # epoch seconds, to find the overdue ones
    Column("step", Integer, nullable=False),
    Column("acknowledged_at", String),
    Column("acknowledged_by", String),
    Column("note", Text),
    Column("closed_at", String),  # no acknowledgement is owed any more (a conflict was resolved)
    Column("created_at", String, nullable=False),
    Index("ix_notices_due", "acknowledged_at", "step", "deadline_s"),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("notice_id", String, primary_key=True),
    Column("endpoint_id", String, ForeignKey("endpoints.id"), primary_key=True),
    Column("party_id", String, nullable=False),
    Column("seq", Integer, nullable=False),
    Column("queued_at", String, nullable=False),
    Column("delivered_at", String),
    Column("read_at", String),
    Column("acknowledged_at", String),
    Index("ix_deliveries_endpoint_seq", "endpoint_id", "seq"),
)

webhook_state = Table(
    "webhook_state",
    metadata,
    Column("endpoint_id", String, ForeignKey("endpoints.id"), primary_key=True),
    Column("pushed_seq", Integer, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", String),
    Column("last_attempt_at", String),
    Column("last_status", Integer),
    Column("last_error", Text),
    Column("last_success_at", String),
    Column("dead_since", String),
)

line_tests = Table(
    "line_tests",
    metadata,
    Column("id", String, primary_key=True),
    Column("endpoint_id", String, ForeignKey("endpoints.id"), nullable=False),
    Column("party_id", String, nullable=False),
    Column("requested_by", String),
    Column("sent_at", String, nullable=False),
    Column("answer_by", String, nullable=False),
    Column("answer_by_s", Float, nullable=False),
    Column("answered_at", String),
    Column("decided", Boolean, nullable=False),
    Index("ix_line_tests_endpoint_sent", "endpoint_id", "sent_at"),
    Index("ix_line_tests_open", "decided", "answer_by_s"),
)

# 0004: the record (``core/merkle.py``, ``core/record.py``)

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("at_ms", Integer, nullable=False),
    Column("kind", String, nullable=False),
    Column("subject", String),
    Column("visible", Text),  # JSON list of the party ids shown the document; NULL = every party
    Column("document", Text, nullable=False),  # the salted canonical JSON, exactly as committed
    Column("leaf_hash", LargeBinary, nullable=False),
    Index("ix_audit_entries_subject", "subject"),
)

audit_heads = Table(
    "audit_heads",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("size", Integer, nullable=False),
    Column("timestamp_ms", Integer, nullable=False),
    Column("root_hash", LargeBinary, nullable=False),
    Column("signature", LargeBinary, nullable=False),
    Index("ix_audit_heads_size", "size"),
)

party_keys = Table(
    "party_keys",
    metadata,
    Column("id", String, primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), nullable=False, index=True),
    Column("public_key", String, nullable=False, unique=True),
    Column("created_at_ms", Integer, nullable=False),
    Column("revoked_at_ms", Integer),
)

# 0005: live tracks (``core/tracks.py``): each accepted batch as it came, kept while its reports can still matter

track_batches = Table(
    "track_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("party_id", String, ForeignKey("parties.id"), nullable=False),
    Column("received_at", Float, nullable=False, index=True),  # epoch seconds
    Column("count", Integer, nullable=False),
    Column("reports", LargeBinary, nullable=False),  # the checked reports, as JSON columns
)

# 0006: tactical alerts (``core/alerts.py``)

alerts = Table(
    "alerts",
    metadata,
    Column("id", String, primary_key=True),
    Column("a_party", String, nullable=False),
    Column("a_track", String, nullable=False),
    Column("b_party", String, nullable=False),
    Column("b_track", String, nullable=False),
    Column("opened_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("closed_at", Float),
    Column("encounter", Text, nullable=False),  # the last prediction sent, as JSON
    Index("ix_alerts_open", "closed_at"),
    Index("ix_alerts_a_party", "a_party"),
    Index("ix_alerts_b_party", "b_party"),
)
