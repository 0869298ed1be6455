"""received events: redelivered events are recognised by their event_id

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
    op.create_table(
        "received_events",
        sa.Column("event_id", sa.String(length=256), nullable=False),
        sa.Column("workflow_run_id", sa.String(length=256), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_received_events")),
    )
    op.create_index(
        op.f("ix_received_events_workflow_run_id"), "received_events", ["workflow_run_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_received_events_workflow_run_id"), table_name="received_events")
    op.drop_table("received_events")
