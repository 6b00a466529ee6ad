"""Tactical alerts: one row per encounter between two tracks, open until it clears.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("a_party", sa.String, nullable=False),
        sa.Column("a_track", sa.String, nullable=False),
        sa.Column("b_party", sa.String, nullable=False),
        sa.Column("b_track", sa.String, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("closed_at", sa.Float),
        sa.Column("encounter", sa.Text, nullable=False),
    )
    op.create_index("ix_alerts_open", "alerts", ["closed_at"])
    op.create_index("ix_alerts_a_party", "alerts", ["a_party"])
    op.create_index("ix_alerts_b_party", "alerts", ["b_party"])


def downgrade() -> None:
    op.drop_table("alerts")
