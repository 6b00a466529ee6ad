"""The first schema: parties, operations, sites, conflicts, acknowledgements, events, idempotency.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("meta", sa.Column("key", sa.String, primary_key=True), sa.Column("value", sa.Text, nullable=False))
    op.create_table(
        "coalitions",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_table(
        "parties",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("role", sa.String, nullable=False),
        sa.Column("coalition_id", sa.String, sa.ForeignKey("coalitions.id"), nullable=True),
        sa.Column("token_hash", sa.String, nullable=False, unique=True),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("volumes", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("callsign", sa.String),
        sa.Column("priority", sa.Integer),
        sa.Column("cancelled", sa.Boolean, nullable=False),
        sa.Column("ended_at", sa.String),
        sa.Column("ends_at", sa.Float, nullable=False, index=True),
        sa.Column("created_at", sa.String, nullable=False),
        sa.Column("updated_at", sa.String, nullable=False),
    )
    op.create_table(
        "sites",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), nullable=False, index=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("category", sa.String, nullable=False),
        sa.Column("volume", sa.Text, nullable=False),
        sa.Column("recipients", sa.Text),
        sa.Column("withdrawn", sa.Boolean, nullable=False),
        sa.Column("ends_at", sa.Float, nullable=False, index=True),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_table(
        "conflicts",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("kind", sa.String, nullable=False),
        *(
            col
            for side in ("a", "b")
            for col in (
                sa.Column(f"{side}_type", sa.String, nullable=False),
                sa.Column(f"{side}_id", sa.String, nullable=False),
                sa.Column(f"{side}_party", sa.String, nullable=False),
                sa.Column(f"{side}_volume", sa.Integer, nullable=False),
            )
        ),
        sa.Column("overlap", sa.Text, nullable=False),
        sa.Column("overlap_end", sa.Float, nullable=False),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.String, nullable=False),
        sa.Column("created_at", sa.String, nullable=False),
        sa.Column("updated_at", sa.String, nullable=False),
        sa.Column("resolved_at", sa.String),
        sa.Column("resolution", sa.String),
    )
    op.create_index("ix_conflicts_a", "conflicts", ["a_id"])
    op.create_index("ix_conflicts_b", "conflicts", ["b_id"])
    op.create_index("ix_conflicts_a_party", "conflicts", ["a_party", "status"])
    op.create_index("ix_conflicts_b_party", "conflicts", ["b_party", "status"])
    op.create_index("ix_conflicts_open_end", "conflicts", ["resolved_at", "overlap_end"])
    op.create_table(
        "acknowledgements",
        sa.Column("conflict_id", sa.String, sa.ForeignKey("conflicts.id"), primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("at", sa.String, nullable=False),
        sa.Column("note", sa.Text),
        sa.Column("signature", sa.Text),
    )
    op.create_table(
        "events",
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), primary_key=True),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("type", sa.String, nullable=False),
        sa.Column("data", sa.Text, nullable=False),
        sa.Column("created_at", sa.String, nullable=False),
    )
    op.create_table(
        "idempotency",
        sa.Column("party_id", sa.String, primary_key=True),
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("request_hash", sa.String, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("created_at", sa.String, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "idempotency",
        "events",
        "acknowledgements",
        "conflicts",
        "sites",
        "operations",
        "parties",
        "coalitions",
        "meta",
    ):
        op.drop_table(table)
