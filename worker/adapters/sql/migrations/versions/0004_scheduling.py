"""Scheduling: the run's typical gap between events and the seq a live lease covers

run_debounce.gap_s feeds the adaptive quiet period; run_debounce.leased_seq lets an event that
arrives during a generation start the next debounce window (worker/domain/window.py). deadline_at
(0003) goes: the window rule computes the deadline from first_pending_at.

Revision ID: 0004
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_debounce") as batch:
        batch.add_column(sa.Column("gap_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("leased_seq", sa.BigInteger(), nullable=True))
        batch.drop_column("deadline_at")


def downgrade() -> None:
    with op.batch_alter_table("run_debounce") as batch:
        batch.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch.drop_column("leased_seq")
        batch.drop_column("gap_s")
