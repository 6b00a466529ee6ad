"""The line: endpoints, channels, messages, notices with deadlines, per-endpoint deliveries; party languages and
events addressed to one endpoint.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("parties", sa.Column("language", sa.String, nullable=False, server_default="en"))
    op.add_column("events", sa.Column("endpoint_id", sa.String))
    op.create_table(
        "endpoints",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("token_hash", sa.String, nullable=False, unique=True),
        sa.Column("duty", sa.Boolean, nullable=False),
        sa.Column("subscriptions", sa.Text),
        sa.Column("webhook_url", sa.Text),
        sa.Column("webhook_secret", sa.Text),
        sa.Column("disabled", sa.Boolean, nullable=False),
        sa.Column("delivered_seq", sa.Integer, nullable=False),
        sa.Column("last_seen_at", sa.String),
        sa.Column("created_at", sa.String, nullable=False),
        sa.UniqueConstraint("party_id", "name", name="uq_endpoints_party_name"),
    )
    op.create_index("ix_endpoints_party_id", "endpoints", ["party_id"])
    op.create_table(
        "channels",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("created_by", sa.String),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_table(
        "channel_members",
        sa.Column("channel_id", sa.String, sa.ForeignKey("channels.id"), primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("accepted_at", sa.String),
    )
    op.create_index("ix_channel_members_party_id", "channel_members", ["party_id"])
    op.create_table(
        "messages",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("sender_id", sa.String, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("channel_id", sa.String, sa.ForeignKey("channels.id")),
        sa.Column("recipients", sa.Text, nullable=False),
        sa.Column("priority", sa.String, nullable=False),
        sa.Column("template", sa.String),
        sa.Column("fields", sa.Text),
        sa.Column("body", sa.Text),
        sa.Column("refs", sa.Text, nullable=False),
        sa.Column("ack_within_s", sa.Float, nullable=False),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_index("ix_messages_sender_id", "messages", ["sender_id"])
    op.create_table(
        "notices",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("sender_id", sa.String),
        sa.Column("priority", sa.String, nullable=False),
        sa.Column("window_s", sa.Float, nullable=False),
        sa.Column("deadline_at", sa.String, nullable=False),
        sa.Column("deadline_s", sa.Float, nullable=False),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("acknowledged_at", sa.String),
        sa.Column("acknowledged_by", sa.String),
        sa.Column("note", sa.Text),
        sa.Column("closed_at", sa.String),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_index("ix_notices_due", "notices", ["acknowledged_at", "step", "deadline_s"])
    op.create_table(
        "deliveries",
        sa.Column("notice_id", sa.String, primary_key=True),
        sa.Column("endpoint_id", sa.String, sa.ForeignKey("endpoints.id"), primary_key=True),
        sa.Column("party_id", sa.String, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.String, nullable=False),
        sa.Column("delivered_at", sa.String),
        sa.Column("read_at", sa.String),
        sa.Column("acknowledged_at", sa.String),
    )
    op.create_index("ix_deliveries_endpoint_seq", "deliveries", ["endpoint_id", "seq"])


def downgrade() -> None:
    for table in ("deliveries", "notices", "messages", "channel_members", "channels", "endpoints"):
        op.drop_table(table)
    op.drop_column("events", "endpoint_id")
    op.drop_column("parties", "language")
