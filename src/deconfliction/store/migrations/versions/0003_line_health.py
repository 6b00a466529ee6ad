"""Line health: line tests, each endpoint's last told line state, and webhook push state.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("endpoints", sa.Column("line_state", sa.String))
    op.add_column("endpoints", sa.Column("line_state_since", sa.String))
    op.create_table(
        "webhook_state",
        sa.Column("endpoint_id", sa.String, sa.ForeignKey("endpoints.id"), primary_key=True),
        sa.Column("pushed_seq", sa.Integer, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.String),
        sa.Column("last_attempt_at", sa.String),
        sa.Column("last_status", sa.Integer),
        sa.Column("last_error", sa.Text),
        sa.Column("last_success_at", sa.String),
        sa.Column("dead_since", sa.String),
    )
    op.create_table(
        "line_tests",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("endpoint_id", sa.String, sa.ForeignKey("endpoints.id"), nullable=False),
        sa.Column("party_id", sa.String, nullable=False),
        sa.Column("requested_by", sa.String),
        sa.Column("sent_at", sa.String, nullable=False),
        sa.Column("answer_by", sa.String, nullable=False),
        sa.Column("answer_by_s", sa.Float, nullable=False),
        sa.Column("answered_at", sa.String),
        sa.Column("decided", sa.Boolean, nullable=False),
    )
    op.create_index("ix_line_tests_endpoint_sent", "line_tests", ["endpoint_id", "sent_at"])
    op.create_index("ix_line_tests_open", "line_tests", ["decided", "answer_by_s"])


def downgrade() -> None:
    op.drop_table("line_tests")
    op.drop_table("webhook_state")
    op.drop_column("endpoints", "line_state_since")
    op.drop_column("endpoints", "line_state")
