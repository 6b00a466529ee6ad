"""The record: log entries (commitments and salted documents), signed tree heads, parties' public keys.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("acknowledgements", sa.Column("key_id", sa.String))
    op.add_column("acknowledgements", sa.Column("signed_at", sa.String))
    op.create_table(
        "audit_entries",
        sa.Column("idx", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("at_ms", sa.Integer, nullable=False),
        sa.Column("kind", sa.String, nullable=False),
        sa.Column("subject", sa.String),
        sa.Column("visible", sa.Text),
        sa.Column("document", sa.Text, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_audit_entries_subject", "audit_entries", ["subject"])
    op.create_table(
        "audit_heads",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("timestamp_ms", sa.Integer, nullable=False),
        sa.Column("root_hash", sa.LargeBinary, nullable=False),
        sa.Column("signature", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_audit_heads_size", "audit_heads", ["size"])
    op.create_table(
        "party_keys",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("public_key", sa.String, nullable=False, unique=True),
        sa.Column("created_at_ms", sa.Integer, nullable=False),
        sa.Column("revoked_at_ms", sa.Integer),
    )
    op.create_index("ix_party_keys_party_id", "party_keys", ["party_id"])


def downgrade() -> None:
    op.drop_table("party_keys")
    op.drop_table("audit_heads")
    op.drop_table("audit_entries")
    op.drop_column("acknowledgements", "signed_at")
    op.drop_column("acknowledgements", "key_id")
