"""Live tracks: accepted batches of position reports, kept while they can still matter.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "track_batches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("party_id", sa.String, sa.ForeignKey("parties.id"), nullable=False),
        sa.Column("received_at", sa.Float, nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("reports", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_track_batches_received_at", "track_batches", ["received_at"])


def downgrade() -> None:
    op.drop_table("track_batches")
