"""run_debounce.deadline_at and first_pending_seq, for a one-statement bump

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
    with op.batch_alter_table("run_debounce") as batch:
        batch.add_column(sa.Column("deadline_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("first_pending_seq", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_debounce") as batch:
        batch.drop_column("first_pending_seq")
        batch.drop_column("deadline_at")
